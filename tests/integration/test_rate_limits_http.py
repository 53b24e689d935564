"""Rate limits over HTTP (the real app and database): each class driven past its limit answers 429
with ``Retry-After``, while another store's customers, webhooks and API key are still served."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.compliance import tokens
from afterorder.db.platforms import connect
from afterorder.db.schema import customers, stock_subscriptions
from afterorder.db.stores import StoreRow
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from afterorder.web.rate_limits import DEFAULT_LIMITS, RateLimitSettings
from tests.compliance_helpers import ingest
from tests.conftest import T0
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running
from tests.platforms import sample, shopify_headers

ATTACKER = ("203.0.113.66", 40000)
CUSTOMER = ("198.51.100.7", 50000)
SECRET = "shpss_limits"


class Seconds:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    runtime: Runtime
    kumo: StoreRow
    harbor: StoreRow
    keys: dict[str, str]
    clock: Seconds
    limits: RateLimitSettings

    def client(self, address: tuple[str, int]) -> httpx.AsyncClient:
        app = create_app(self.runtime, limits=self.limits, limit_clock=self.clock)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=address), base_url="http://mail.test")

    async def customer_id(self, store: StoreRow) -> int:
        async with self.runtime.engine.connect() as conn:
            found = await conn.execute(select(customers.c.id).where(customers.c.store_id == store.id))
            return int(found.scalar_one())


async def _site(sqlite_url: str, limits: RateLimitSettings) -> AsyncIterator[Site]:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        kumo, kumo_key = await add_store(runtime, JP_STORE)
        harbor, harbor_key = await add_store(runtime, US_STORE)
        await ingest(runtime, harbor, order_event("order.placed", "H1", T0, locale="en"))
        async with runtime.engine.begin() as conn:
            for store in (kumo, harbor):
                await connect(conn, store.id, "shopify", T0, secret=SECRET, sealer=runtime.sealer)
        yield Site(runtime, kumo, harbor, {"kumo": kumo_key, "harbor": harbor_key}, Seconds(), limits)


@pytest.fixture
async def site(sqlite_url: str) -> AsyncIterator[Site]:
    async for made in _site(sqlite_url, RateLimitSettings()):
        yield made


@pytest.fixture
async def small_site(sqlite_url: str) -> AsyncIterator[Site]:
    """Webhook and API limits small enough to drive past in a test (their defaults are thousands a second)."""
    async for made in _site(sqlite_url, RateLimitSettings.build(["webhooks=10/s,burst=5", "api=10/s,burst=5"])):
        yield made


PUBLIC = [("GET", "/u/{store}/not-a-token"),
          ("POST", "/preferences/{store}/not-a-token"), ("POST", "/s/{store}/nps/not-a-token"),
          ("GET", "/preferences/{store}/not-a-token"), ("GET", "/confirm/{store}/not-a-token"),
          ("GET", "/s/{store}/nps/not-a-token"), ("GET", "/s/{store}/profile/not-a-token"),
          ("POST", "/public/{store}/back-in-stock"), ("GET", "/line/link/{store}/not-a-token")]


@pytest.mark.parametrize(("method", "path"), PUBLIC)
async def test_a_public_page_probed_from_one_address_is_refused_while_another_stores_customers_are_served(
        site: Site, method: str, path: str) -> None:
    burst = DEFAULT_LIMITS["public"].burst
    async with site.client(ATTACKER) as attacker, site.client(CUSTOMER) as customer:
        url = path.format(store="kumo")
        answers = [await attacker.request(method, url) for _ in range(burst)]
        assert all(a.status_code != 429 for a in answers), [a.status_code for a in answers]
        refused = await attacker.request(method, url)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "2"  # 30 a minute: a request back every 2 s
        if refused.headers["content-type"].startswith("text/html"):
            assert "try again in 2 seconds" in refused.text

        assert (await customer.request(method, url)).status_code != 429  # the store's other customers are not

        # the same customer page of another store is still served, to its customer and to this address
        harbor_customer = await site.customer_id(site.harbor)
        page = f"/preferences/harbor/{tokens.preferences_token(site.runtime.signers.of(site.harbor), harbor_customer)}"
        for who in (customer, attacker):
            shown = await who.get(page)
            assert shown.status_code == 200 and "Harbor Goods" in shown.text

        site.clock.now += 2.0  # one request back after two seconds, not more
        assert (await attacker.request(method, url)).status_code != 429
        assert (await attacker.request(method, url)).status_code == 429


async def test_one_click_unsubscribes_from_a_mailbox_provider_pass_in_bulk_then_are_limited_per_store(
        site: Site) -> None:
    burst = DEFAULT_LIMITS["one_click"].burst
    one_click = {"List-Unsubscribe": "One-Click"}
    async with site.client(ATTACKER) as provider:
        answers = [await provider.post(f"/u/kumo/not-a-token-{n}", data=one_click) for n in range(burst + 1)]
        assert all(a.status_code == 400 for a in answers[:burst])  # far more than a public page allows
        assert answers[burst].status_code == 429 and answers[burst].headers["retry-after"] == "1"
        harbor = await site.customer_id(site.harbor)
        link = f"/u/harbor/{tokens.unsubscribe_token(site.runtime.signers.of(site.harbor), tokens.MessageRef(harbor))}"
        done = await provider.post(link, data=one_click)
        assert done.status_code == 200 and "Harbor Goods" in done.text


async def test_three_hundred_unsubscribe_probes_from_one_address_are_mostly_refused(site: Site) -> None:
    async with site.client(ATTACKER) as attacker:
        answers = [(await attacker.get("/u/kumo/guess-{n}")).status_code for n in range(300)]
    assert answers.count(429) == 300 - DEFAULT_LIMITS["public"].burst


async def test_a_flood_of_platform_webhooks_is_refused_while_another_stores_webhooks_are_stored(
        small_site: Site) -> None:
    body = sample("shopify", "orders_create.sample.json")
    async with small_site.client(ATTACKER) as sender:
        answers = [await sender.post("/webhooks/shopify/kumo", content=body,
                                     headers=shopify_headers(body, SECRET, "orders/create", f"wh-{n}"))
                   for n in range(6)]
        assert [a.status_code for a in answers[:5]] == [200] * 5
        assert answers[5].status_code == 429 and answers[5].headers["retry-after"] == "1"
        assert answers[5].json()["error"] == "rate_limited"
        other = await sender.post("/webhooks/shopify/harbor", content=body,
                                  headers=shopify_headers(body, SECRET, "orders/create", "wh-harbor"))
        assert other.status_code == 200


async def test_a_flood_of_provider_feedback_is_refused_while_another_stores_feedback_is_answered(
        small_site: Site) -> None:
    async with small_site.client(ATTACKER) as sender:
        answers = [await sender.post("/webhooks/esp/sendgrid/kumo", content=b"[]") for _ in range(6)]
        assert all(a.status_code != 429 for a in answers[:5])
        assert answers[5].status_code == 429 and answers[5].headers["retry-after"] == "1"
        other = await sender.post("/webhooks/esp/sendgrid/harbor", content=b"[]")
        assert other.status_code == answers[0].status_code  # the store's own answer, not a refusal
        line = [await sender.post("/webhooks/line/kumo", content=b"{}") for _ in range(6)]
        assert line[5].status_code == 429  # each provider's endpoint has its own bucket, as full as the others


async def test_an_api_key_past_its_limit_is_refused_while_another_stores_key_is_served(small_site: Site) -> None:
    def event(n: int) -> str:
        return json.dumps(order_event("order.placed", f"A{n}", T0))

    async with small_site.client(CUSTOMER) as http:
        kumo = {"Authorization": f"Bearer {small_site.keys['kumo']}", "Content-Type": "application/json"}
        harbor = {"Authorization": f"Bearer {small_site.keys['harbor']}", "Content-Type": "application/json"}
        answers = [await http.post("/api/v1/events", content=event(n), headers=kumo) for n in range(6)]
        assert [a.status_code for a in answers[:5]] == [answers[0].status_code] * 5
        assert answers[0].status_code in (200, 201, 202)
        assert answers[5].status_code == 429 and answers[5].headers["retry-after"] == "1"
        assert answers[5].json()["error"] == "rate_limited"
        assert (await http.get("/api/v1/runs", headers=kumo)).status_code == 429  # the key, on every route
        assert (await http.post("/api/v1/events", content=event(99), headers=harbor)).status_code in (200, 201, 202)


async def test_behind_a_trusted_proxy_each_customer_is_counted_and_recorded_by_their_own_address(
        sqlite_url: str) -> None:
    limits = RateLimitSettings.build(trusted_proxies=["10.0.0.0/8"])
    async for site in _site(sqlite_url, limits):
        async with site.client(("10.0.0.5", 443)) as proxy:
            flood = [await proxy.post("/public/kumo/back-in-stock", json={},
                                      headers={"X-Forwarded-For": "203.0.113.66"}) for _ in range(21)]
            assert flood[-1].status_code == 429
            wanted = {"email": "eri@example.com", "product_id": "p1"}
            asked = await proxy.post("/public/kumo/back-in-stock", json=wanted,
                                     headers={"X-Forwarded-For": "198.51.100.9, 10.0.0.7"})
            assert asked.status_code == 201
            forged = await proxy.post("/public/kumo/back-in-stock", json={},
                                      headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.66"})
            assert forged.status_code == 429  # the right-most address the proxy saw is the flooder's
        async with site.runtime.engine.connect() as conn:
            recorded = (await conn.execute(select(stock_subscriptions.c.source_ip))).scalar_one()
        assert recorded == "198.51.100.9"

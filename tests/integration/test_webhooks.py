"""Platform webhooks over real HTTP on loopback, stored in a real SQLite file and PostgreSQL:
signatures, dedupe, unreadable bodies, ignored topics, remembered status and stock, Saleor's JWKS."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from afterorder.clock import FrozenClock
from afterorder.db.platforms import connect
from afterorder.db.schema import customers, events, orders, platform_items, platform_orders, webhook_deliveries
from afterorder.db.stores import StoreRow
from afterorder.keys.sealing import new_key
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import add_store, running
from tests.loopback import loopback
from tests.platforms import SaleorKey, saleor_headers, sample, sample_json, shopify_headers, woocommerce_headers

SECRET = "shpss_3f9a0c1d"


@dataclass
class Served:
    client: httpx.AsyncClient
    url: str
    runtime: Runtime
    store: StoreRow
    api_key: str

    async def count(self, table: Any, **where: Any) -> int:
        async with self.runtime.engine.connect() as conn:
            query = select(func.count()).select_from(table)
            for column, value in where.items():
                query = query.where(table.c[column] == value)
            return int((await conn.execute(query)).scalar_one())

    async def connect(self, platform: str, secret: str | None, **options: Any) -> None:
        async with self.runtime.engine.begin() as conn:
            await connect(conn, self.store.id, platform, T0, secret=secret, sealer=self.runtime.sealer,
                          **options)

    async def shopify(self, topic: str, body: bytes, *, secret: str = SECRET, webhook_id: str = "wh-1",
                      **override: str) -> httpx.Response:
        headers = {**shopify_headers(body, secret, topic, webhook_id), **override}
        return await self.client.post(f"{self.url}/webhooks/shopify/kumo", content=body, headers=headers)


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[Served]:
    async with running(database_url, FrozenClock(T0), secret_key=new_key()) as runtime:
        store, key = await add_store(runtime)
        async with httpx.AsyncClient(timeout=10) as http, loopback(create_app(runtime, webhook_http=http)) as url:
            served = Served(http, url, runtime, store, key)
            await served.connect("shopify", SECRET)
            yield served


async def test_a_signed_order_is_stored_once_however_often_it_is_delivered(served: Served) -> None:
    body = sample("shopify", "orders_create.sample.json")
    first = await served.shopify("orders/create", body)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == [
        {"id": "shopify:order:820982911946154508:placed", "status": "stored", "runs_started": 1}]
    again = await served.shopify("orders/create", body)
    assert again.status_code == 200 and again.json()["accepted"][0]["status"] == "duplicate"
    assert await served.count(events) == 1
    async with served.runtime.engine.connect() as conn:
        stored = (await conn.execute(select(events))).mappings().one()
        order = (await conn.execute(select(orders))).mappings().one()
        customer = (await conn.execute(select(customers))).mappings().one()
    assert stored["source"] == "shopify" and stored["type"] == "order.placed"
    assert stored["raw"]["name"] == "#9999", "the raw payload is kept beside the event"
    assert order["number"] == "#9999" and order["currency"] == "USD" and str(order["total"]) == "404.9500"
    assert customer["email"] == "john@example.com" and customer["locale"] == "en" and customer["accepts_marketing"]


async def test_forged_missing_and_stale_signatures_are_refused_and_nothing_is_stored(served: Served) -> None:
    body = sample("shopify", "orders_create.sample.json")
    forged = await served.shopify("orders/create", body, secret="not-the-secret")
    missing = await served.client.post(f"{served.url}/webhooks/shopify/kumo", content=body,
                                       headers={"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "x"})
    tampered = await served.shopify("orders/create", body, **{"X-Shopify-Hmac-Sha256": shopify_headers(
        body.replace(b"404.95", b"0.01"), SECRET, "orders/create")["X-Shopify-Hmac-Sha256"]})
    assert [r.status_code for r in (forged, missing, tampered)] == [401, 401, 401]
    assert "X-Shopify-Hmac-Sha256" in forged.json()["message"] and "missing" in missing.json()["message"]

    await served.connect("shopify", "shpss_new", keep_previous=True)
    assert (await served.shopify("orders/create", body, secret=SECRET, webhook_id="rotating")).status_code == 200
    await served.connect("shopify", "shpss_newer")
    stale = await served.shopify("orders/paid", body, secret=SECRET)
    assert stale.status_code == 401, "after the rotation ends the old secret is stale"
    assert await served.count(events) == 1 and await served.count(webhook_deliveries) == 0
    assert (await served.shopify("orders/paid", body, secret="shpss_newer")).status_code == 200


async def test_unreadable_bodies_get_400_with_the_reason(served: Served) -> None:
    broken = await served.shopify("orders/create", b'{"id": 1, "line_items": [')
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["message"]
    no_id = await served.shopify("orders/create", json.dumps({"name": "#1", "line_items": []}).encode())
    assert no_id.status_code == 400 and "'id' is missing" in no_id.json()["message"]
    order = sample_json("shopify", "orders_create.sample.json")
    order["customer"]["email"] = "not an email"
    order["email"] = order["contact_email"] = None
    bad_email = await served.shopify("orders/create", json.dumps(order).encode())
    assert bad_email.status_code == 400 and "customer.email" in bad_email.json()["message"]
    odd = await served.shopify("orders/create", json.dumps({"id": 6, "line_items": [{"quantity": "many"}]}).encode())
    assert odd.status_code == 400 and "orders/create" in odd.json()["message"]
    assert await served.count(events) == 0


async def test_unknown_topics_are_answered_and_recorded_once(served: Served) -> None:
    body = json.dumps({"id": 548380009, "name": "Kumo Tea", "domain": "kumo-tea.myshopify.com"}).encode()
    for _ in range(2):
        response = await served.shopify("app/uninstalled", body, webhook_id="unknown-1")
        assert response.status_code == 200 and response.json()["status"] == "ignored"
    async with served.runtime.engine.connect() as conn:
        [row] = (await conn.execute(select(webhook_deliveries))).mappings().all()
    assert (row["platform"], row["topic"], row["delivery_id"], row["status"]) == (
        "shopify", "app/uninstalled", "unknown-1", "ignored")
    assert row["raw"]["name"] == "Kumo Tea" and "app/uninstalled" in row["reason"]
    assert await served.count(events) == 0


async def test_unknown_store_platform_or_connection_is_404(served: Served) -> None:
    body = sample("shopify", "customers_create.sample.json")
    headers = shopify_headers(body, SECRET, "customers/create")
    for path in ("/webhooks/shopify/nobody", "/webhooks/magento/kumo", "/webhooks/woocommerce/kumo"):
        response = await served.client.post(served.url + path, content=body, headers=headers)
        assert response.status_code == 404, path
    assert "store connect kumo woocommerce" in response.json()["message"]
    too_big = await served.shopify("customers/create", b"{" + b" " * (1024 * 1024) + b"}")
    assert too_big.status_code == 413


async def test_restock_is_a_level_going_from_zero_to_more(served: Served) -> None:
    level = sample_json("shopify", "inventory_levels_update.sample.json")
    for n, available in enumerate((0, 10, 12, 0, 3)):
        level["available"] = available
        response = await served.shopify("inventory_levels/update", json.dumps(level).encode(), webhook_id=f"inv-{n}")
        assert response.status_code == 200
    async with served.runtime.engine.connect() as conn:
        restocks = (await conn.execute(select(events.c.type, events.c.payload))).mappings().all()
        item = (await conn.execute(select(platform_items))).mappings().one()
    assert [r["type"] for r in restocks] == ["product.restocked", "product.restocked"]
    assert [r["payload"]["product"]["inventory_quantity"] for r in restocks] == [10, 3]
    assert item["item_id"] == "271878346596884015" and item["levels"] == {"24826418": 3}
    assert await served.count(webhook_deliveries, status="ignored") == 3


async def test_woocommerce_ping_and_each_status_change_once(served: Served) -> None:
    await served.connect("woocommerce", "wc-secret")
    url = f"{served.url}/webhooks/woocommerce/kumo"
    ping = await served.client.post(url, content=b"webhook_id=31",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert ping.status_code == 200 and ping.json()["status"] == "ping"
    created = sample("woocommerce", "order_created.v3_example.json")
    updated = sample("woocommerce", "order_updated.v3_example.json")
    answers = []
    for topic, body in (("order.created", created), ("order.updated", updated), ("order.updated", updated)):
        response = await served.client.post(url, content=body, headers=woocommerce_headers(body, "wc-secret", topic))
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert [a["status"] for a in answers] == ["stored", "stored", "ignored"]
    async with served.runtime.engine.connect() as conn:
        types = (await conn.execute(select(events.c.type).order_by(events.c.id))).scalars().all()
        status = (await conn.execute(select(platform_orders.c.status))).scalar_one()
        order = (await conn.execute(select(orders))).mappings().one()
    assert types == ["order.placed", "order.paid", "order.shipped"] and status == "completed"
    assert order["status"] == "shipped" and order["number"] == "727"
    forged = await served.client.post(url, content=updated,
                                      headers=woocommerce_headers(updated, "guess", "order.updated"))
    assert forged.status_code == 401


# ---- Saleor: a JWKS served by a real HTTP server on loopback -----------------------------------


class SaleorInstance:
    """What the test plays of a Saleor instance: its key set at /.well-known/jwks.json."""

    def __init__(self) -> None:
        self.key = SaleorKey("k1")
        self.fetches = 0

        async def jwks(_request: Request) -> JSONResponse:
            self.fetches += 1
            return JSONResponse({"keys": [self.key.jwk()]})

        self.app = Starlette(routes=[Route("/.well-known/jwks.json", jwks)])


async def test_saleor_detached_jws_with_the_jwks_of_the_connected_instance(served: Served) -> None:
    saleor = SaleorInstance()
    attacker = SaleorInstance()
    async with loopback(saleor.app) as saleor_url, loopback(attacker.app) as attacker_url:
        api_url = f"{saleor_url}/graphql/"
        await served.connect("saleor", None, api_url=api_url)
        url = f"{served.url}/webhooks/saleor/kumo"
        body = sample("saleor", "ORDER_CREATED.json")

        async def post(body: bytes, signature: str, event: str = "order_created", api: str = api_url) -> httpx.Response:
            return await served.client.post(url, content=body, headers=saleor_headers(event, api, signature))

        first = await post(body, saleor.key.sign(body))
        assert first.status_code == 200, first.text
        assert first.json()["accepted"][0]["id"].startswith("saleor:order:")
        paid = sample("saleor", "ORDER_FULLY_PAID.json")
        assert (await post(paid, saleor.key.sign(paid), "order_fully_paid")).status_code == 200
        assert saleor.fetches == 1, "the key set is cached"

        tampered = await post(body.replace(b"213", b"1"), saleor.key.sign(body))
        assert tampered.status_code == 401 and "does not match" in tampered.json()["message"]
        elsewhere = await post(body, attacker.key.sign(body), api=f"{attacker_url}/graphql/")
        assert elsewhere.status_code == 401
        assert "not the Saleor this store connected with" in elsewhere.json()["message"]
        assert attacker.fetches == 0
        unknown = await post(body, SaleorKey("k1").sign(body))
        assert unknown.status_code == 401

        saleor.key = SaleorKey("k2")  # Saleor rotates its key: an unknown kid fetches the set again
        cancelled = sample("saleor", "ORDER_CANCELLED.json")
        assert (await post(cancelled, saleor.key.sign(cancelled), "order_cancelled")).status_code == 200
        assert saleor.fetches == 2
        assert (await post(body, "")).status_code == 401
    async with served.runtime.engine.connect() as conn:
        types = (await conn.execute(select(events.c.type).order_by(events.c.id))).scalars().all()
    assert types == ["order.placed", "order.paid", "order.cancelled"]


async def test_saleor_legacy_hmac(served: Served) -> None:
    import hashlib
    import hmac

    await served.connect("saleor", "legacy-secret", api_url="https://saleor.example.com/graphql/")
    body = sample("saleor", "ORDER_CREATED.json")
    signature = hmac.new(b"legacy-secret", body, hashlib.sha256).hexdigest()
    url = f"{served.url}/webhooks/saleor/kumo"
    good = await served.client.post(url, content=body, headers=saleor_headers(
        "order_created", "https://saleor.example.com/graphql/", signature))
    bad = await served.client.post(url, content=body, headers=saleor_headers(
        "order_created", "https://saleor.example.com/graphql/", "0" * 64))
    assert (good.status_code, bad.status_code) == (200, 401)


async def test_connecting_through_the_admin_api(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.api_key}"}
    made = await served.client.post(f"{served.url}/api/v1/connections", headers=auth,
                                    json={"platform": "woocommerce", "secret": "wc-1"})
    assert made.status_code == 200, made.text
    assert made.json()["webhook_url"] == "http://127.0.0.1:8000/webhooks/woocommerce/kumo"
    assert "order.updated" in made.json()["topics"]
    rotated = await served.client.post(f"{served.url}/api/v1/connections", headers=auth,
                                       json={"platform": "woocommerce", "secret": "wc-2", "keep_previous": True})
    assert rotated.json()["previous_secret_kept"] is True
    body = sample("woocommerce", "order_created.v3_example.json")
    for secret in ("wc-1", "wc-2"):
        response = await served.client.post(f"{served.url}/webhooks/woocommerce/kumo", content=body,
                                            headers=woocommerce_headers(body, secret, "order.created"))
        assert response.status_code == 200
    no_secret = await served.client.post(f"{served.url}/api/v1/connections", headers=auth, json={"platform": "shopify"})
    assert no_secret.status_code == 422 and "secret" in no_secret.json()["message"]
    no_url = await served.client.post(f"{served.url}/api/v1/connections", headers=auth, json={"platform": "saleor"})
    assert no_url.status_code == 422 and "api_url" in no_url.json()["message"]
    unknown = await served.client.post(f"{served.url}/api/v1/connections", headers=auth, json={"platform": "magento"})
    assert unknown.status_code == 422
    anonymous = await served.client.post(f"{served.url}/api/v1/connections", json={"platform": "shopify"})
    assert anonymous.status_code == 401


ODD_BODIES = [b"[]", b'"text"', b"null", b'{"id": {"nested": true}}', b'{"id": 1, "line_items": [{"price": "abc"}]}',
              b'{"id": 1, "customer": "someone", "shipping_address": [1, 2]}', b'{"id": 1, "created_at": "yesterday"}',
              b'{"id": 1, "status": 7, "line_items": [{"quantity": -3, "title": ""}], "refunds": "none"}',
              b'{"order": [], "checkout": 5, "user": {"email": "x"}, "productVariant": {"id": null}}']


async def test_odd_bodies_on_every_topic_get_400_or_200_never_500(sqlite_url: str) -> None:
    import hashlib
    import hmac

    from afterorder.intake.platforms import build_adapters

    adapters = build_adapters()
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            for platform in adapters:
                await connect(conn, store.id, platform, T0, secret="s", sealer=runtime.sealer,
                              api_url="https://saleor.example.com/graphql/")
        async with httpx.AsyncClient(timeout=10) as http, loopback(create_app(runtime, webhook_http=http)) as url:
            statuses: dict[int, int] = {}
            for n, body in enumerate(ODD_BODIES):
                requests = [("shopify", shopify_headers(body, "s", topic, f"odd-{n}-{topic}"))
                            for topic in adapters["shopify"].subscribe]
                requests += [("woocommerce", woocommerce_headers(body, "s", topic))
                             for topic in adapters["woocommerce"].subscribe]
                requests += [("saleor", saleor_headers(event.lower(), "https://saleor.example.com/graphql/",
                                                       hmac.new(b"s", body, hashlib.sha256).hexdigest()))
                             for event in adapters["saleor"].subscribe]
                for platform, headers in requests:
                    response = await http.post(f"{url}/webhooks/{platform}/kumo", content=body, headers=headers)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    assert response.status_code in (200, 400), (platform, headers, body, response.text)
                    if response.status_code == 400:
                        assert response.json()["message"], "a 400 names the problem"
    assert statuses.get(400, 0) > 0

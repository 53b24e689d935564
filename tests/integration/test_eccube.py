"""EC-CUBE end to end over loopback: the Web API plugin's signed webhooks answered at once and recorded,
the order fetched afterwards from a local EC-CUBE Web API (dev/sinks/eccube.py: OAuth2 token endpoint and
GraphQL) holding the constructed sample order, stored on SQLite and PostgreSQL; refusals, replays, token
renewal, retries, every mapped status, customers with their mail-magazine consent, connecting over the API
and the CLI."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import func, select
from starlette.responses import Response
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.clock import FrozenClock
from afterorder.db.platforms import connect
from afterorder.db.schema import (
    customers,
    events,
    flow_runs,
    orders,
    platform_connections,
    platform_fetches,
    webhook_deliveries,
)
from afterorder.db.stores import StoreRow
from afterorder.dev.sinks import eccube
from afterorder.dev.sinks.base import SeenRequest, Sink
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.intake.eccube import signature
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import add_store, running
from tests.loopback import loopback
from tests.platforms import sample_json

WEBHOOK_SECRET = "whsec-eccube-8d1f"
CLIENT_ID = "6f1e0c7a9b2d4e5f8a3b1c0d9e8f7a6b"
CLIENT_SECRET = "c2VjcmV0LWZvci1hZnRlcm9yZGVy"
TOKYO = timezone(timedelta(hours=9))


def at(hours: float) -> str:
    """A time ``hours`` before T0 as the plugin writes DateTime (ATOM, the shop's +09:00)."""
    return (T0 - timedelta(hours=hours)).astimezone(TOKYO).isoformat(timespec="seconds")


def sample_order(**changes: Any) -> dict[str, Any]:
    """The constructed GraphQL order (tests/fixtures/platforms/eccube), its times moved to just before T0."""
    order: dict[str, Any] = copy.deepcopy(sample_json("eccube", "order.graphql_response.json")["data"]["order"])
    order.update({"create_date": at(5.1), "order_date": at(5), "payment_date": at(4.9), "update_date": at(1)})
    order["Shippings"][0].update({"shipping_date": at(1), "shipping_delivery_date": at(-24)})
    order.update(changes)
    return order


def sample_customer(**changes: Any) -> dict[str, Any]:
    found: dict[str, Any] = copy.deepcopy(sample_json("eccube", "customer.graphql_response.json")["data"]["customer"])
    found.update({"create_date": at(100), "update_date": at(0.5), **changes})
    return found


def notice(entity: str = "order", id_: int = 12, action: str = "updated") -> dict[str, Any]:
    return {"entity": entity, "id": id_, "action": action}


@dataclass
class Served:
    http: httpx.AsyncClient
    url: str
    runtime: Runtime
    clock: FrozenClock
    store: StoreRow
    api_key: str
    sink: Sink
    shop: eccube.EccubeShop
    api: str

    async def post(self, body: list[dict[str, Any]] | bytes, secret: str = WEBHOOK_SECRET, *,
                   sign: str | None = None, slug: str = "kumo") -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        given = sign if sign is not None else signature(secret, raw)
        return await self.http.post(f"{self.url}/webhooks/eccube/{slug}", content=raw, headers={
            "Content-Type": "application/json", "X-ECCUBE-URL": "https://shop.example.jp/",
            "X-ECCUBE-Signature": given})

    async def count(self, table: Any, **where: Any) -> int:
        async with self.runtime.engine.connect() as conn:
            query = select(func.count()).select_from(table)
            for column, value in where.items():
                query = query.where(table.c[column] == value)
            return int((await conn.execute(query)).scalar_one())

    async def stored(self) -> list[str]:
        async with self.runtime.engine.connect() as conn:
            return list((await conn.execute(select(events.c.source_id).order_by(events.c.id))).scalars())

    async def fetch_rows(self) -> list[Any]:
        async with self.runtime.engine.connect() as conn:
            return list((await conn.execute(select(platform_fetches).order_by(platform_fetches.c.id))).mappings())


@pytest.fixture
async def served(database_url: str, smtp_server: DevSmtpServer) -> AsyncIterator[Served]:
    clock = FrozenClock(T0)
    sink = Sink()
    shop = eccube.EccubeShop(CLIENT_ID, CLIENT_SECRET, customers={"7": sample_customer()})
    shop.put(sample_order())
    async with running(database_url, clock, smtp_url=smtp_server.url) as runtime, \
            loopback(eccube.app(sink, [shop])) as api:
        store, key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await connect(conn, store.id, "eccube", T0, secret=WEBHOOK_SECRET, account_id=CLIENT_ID,
                          token=CLIENT_SECRET, api_url=api, sealer=runtime.sealer)
        async with httpx.AsyncClient(timeout=10) as http, loopback(create_app(runtime, webhook_http=http)) as url:
            yield Served(http, url, runtime, clock, store, key, sink, shop, api)


async def test_a_webhook_is_answered_before_the_fetch_and_the_order_is_fetched_by_graphql(served: Served) -> None:
    answer = await served.post([notice(action="created")])
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "queued"
    assert answer.json()["notices"] == [{"entity": "order", "id": "12", "action": "created", "status": "queued"}]
    assert served.sink.requests == [] and await served.stored() == [], "nothing fetched before the answer"

    assert await served.runtime.eccube.run_due() == 1
    token, query = served.sink.requests
    form = parse_qs(token.body.decode())
    assert token.path == "/token" and form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == [CLIENT_SECRET]
    assert query.path == "/api" and query.headers["authorization"].startswith("Bearer ")
    assert json.loads(query.body)["variables"] == {"id": "12"}
    assert await served.stored() == ["eccube:order:12:placed", "eccube:order:12:paid", "eccube:order:12:shipped:12"]
    async with served.runtime.engine.connect() as conn:
        order = (await conn.execute(select(orders))).mappings().one()
        customer = (await conn.execute(select(customers))).mappings().one()
        shipped = (await conn.execute(select(events.c.payload, events.c.source, events.c.raw)
                                      .where(events.c.type == "order.shipped"))).one()
    assert order["number"] == "12" and str(order["total"]).startswith("5840") and order["currency"] == "JPY"
    assert customer["email"] == "hanako.yamada@example.jp" and customer["last_name"] == "山田"
    assert customer["accepts_marketing"] is True, "mailmaga_flg 1: the customer takes the mail magazine"
    assert shipped.payload["shipment"]["tracking_number"] == "4391-0012-3456"
    assert shipped.payload["shipment"]["carrier"] == "サンプル宅配"
    lines = shipped.payload["order"]["lines"]
    assert [(li["title"], li["quantity"], li["price"]) for li in lines] == [
        ("チェリーアイスサンド", 1, "3080.0"), ("彩のジェラートCUBE", 2, "880.0")], "tax included; 送料 is no line"
    assert shipped.source == "eccube" and shipped.raw["OrderStatus"]["id"] == "5"
    assert [r["status"] for r in await served.fetch_rows()] == ["done"]
    assert await served.count(flow_runs) >= 1, "a live order reaches the flows (order confirmation)"


async def test_a_running_server_fetches_on_its_own_and_the_customer_gets_mail(
        served: Served, smtp_server: DevSmtpServer) -> None:
    await served.runtime.start_workers()
    answer = await served.post([notice(action="created")])
    assert answer.json()["status"] == "queued"
    await smtp_server.inbox.wait_for(1, 10.0)
    assert [r["status"] for r in await served.fetch_rows()] == ["done"] and await served.count(events) == 3


async def test_bad_signatures_and_unknown_stores_are_refused_and_nothing_is_recorded(served: Served) -> None:
    forged = await served.post([notice()], "another-shops-secret")
    missing = await served.post([notice()], sign="")
    unknown = await served.post([notice()], slug="no-such-store")
    tampered = await served.post(b'[{"entity":"order","id":13,"action":"updated"}]',
                                 sign=signature(WEBHOOK_SECRET, b'[{"entity":"order","id":12,"action":"updated"}]'))
    assert (forged.status_code, missing.status_code, unknown.status_code, tampered.status_code) == (401, 401, 404, 401)
    assert "X-ECCUBE-Signature" in forged.text and "no-such-store" in unknown.text
    assert await served.count(platform_fetches) == 0 and await served.count(webhook_deliveries) == 0
    assert served.sink.requests == [] and await served.count(events) == 0


async def test_a_replayed_webhook_stores_nothing_twice(served: Served) -> None:
    body = [notice()]
    first = await served.post(body)
    replay = await served.post(body)
    assert first.json()["status"] == "queued" and replay.json()["status"] == "duplicate"
    assert await served.runtime.eccube.run_due() == 1
    assert await served.runtime.eccube.run_due() == 0, "the replay waits for no second fetch"
    # the same bytes a minute later, once the first was fetched: fetched (it may report a change, as the plugin
    # sends the same body for every update of an order), but every fact is there already
    served.clock.advance(60)
    assert (await served.post(body)).json()["status"] == "queued"
    assert await served.runtime.eccube.run_due() == 1
    assert await served.count(events) == 3 and await served.count(orders) == 1 and await served.count(customers) == 1
    assert served.shop.issued == 1, "the access token is kept between fetches"


async def test_an_expired_token_is_renewed_and_a_failed_fetch_is_retried_with_backoff(served: Served) -> None:
    await served.post([notice()])
    await served.runtime.eccube.run_due()
    served.shop.revoke()
    served.shop.put(sample_order(OrderStatus={"id": "9", "name": "返品"}, update_date=at(0.5)))
    answers: list[Response] = [Response("Service Unavailable", 503)]

    def trouble(request: SeenRequest) -> Response | None:  # the shop falls over once the new token is in use
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return answers.pop(0) if answers and request.path == "/api" and token in served.shop.tokens else None

    served.sink.trouble = trouble
    served.clock.advance(60)
    await served.post([notice()])
    await served.runtime.eccube.run_due()  # 401 with the revoked token → a new token → 503
    row = (await served.fetch_rows())[-1]
    assert row["status"] == "pending" and row["attempts"] == 1 and "503" in row["last_error"]
    assert served.shop.issued == 2, "the 401 got a new token"
    assert await served.runtime.eccube.run_due() == 0, "not again before the backoff"
    served.clock.advance(11)
    assert await served.runtime.eccube.run_due() == 1
    assert (await served.fetch_rows())[-1]["status"] == "done"
    assert (await served.stored())[-1] == "eccube:order:12:returned"


async def test_a_wrong_client_secret_or_a_deleted_order_ends_the_fetch_with_the_reason(served: Served) -> None:
    await served.post([notice(id_=404)])
    await served.runtime.eccube.run_due()
    assert (await served.fetch_rows())[-1]["last_error"] == "EC-CUBE has no order 404"
    served.shop.client_secret = "rotated-in-eccube"  # a new secret in EC-CUBE's admin ends the tokens given
    served.shop.revoke()
    await served.post([notice()])
    await served.runtime.eccube.run_due()
    row = (await served.fetch_rows())[-1]
    assert row["status"] == "failed" and "invalid_client" not in row["last_error"]
    assert "401: Client authentication failed (the client id or secret is wrong" in row["last_error"]
    assert await served.count(events) == 0


async def test_products_and_deletions_are_recorded_as_ignored(served: Served) -> None:
    raw = sample_json("eccube", "webhook_payload.api42_test.json")
    answer = await served.post(json.dumps(raw, separators=(",", ":")).encode())
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    mixed = await served.post([notice(action="deleted"), notice("customer", 7, "updated")])
    assert [n["status"] for n in mixed.json()["notices"]] == ["ignored", "queued"]
    assert await served.count(webhook_deliveries, topic="product.updated") == 1
    assert await served.count(webhook_deliveries, topic="order.deleted") == 1


async def test_a_customer_notice_brings_the_customers_own_consent(served: Served) -> None:
    await served.post([notice()])
    await served.runtime.eccube.run_due()
    await served.post([notice("customer", 7, "updated")])
    await served.runtime.eccube.run_due()
    assert "mailmaga_flg" in json.loads(served.sink.requests[-1].body)["query"]
    async with served.runtime.engine.connect() as conn:
        customer = (await conn.execute(select(customers))).mappings().one()
    assert customer["accepts_marketing"] is False, "the customer left the mail magazine after ordering"


async def test_a_shop_whose_api_has_no_mailmaga_field_is_asked_without_it(served: Served) -> None:
    served.shop.consent_field = False
    await served.post([notice("customer", 7, "created")])
    await served.runtime.eccube.run_due()
    refused, asked = (json.loads(r.body)["query"] for r in served.sink.requests[1:])
    assert "mailmaga_flg" in refused and "mailmaga_flg" not in asked
    async with served.runtime.engine.connect() as conn:
        customer = (await conn.execute(select(customers))).mappings().one()
    assert customer["email"] == "hanako.yamada@example.jp" and not customer["accepts_marketing"], \
        "consent unknown: never subscribed"


async def test_connecting_over_the_api_names_what_is_missing_and_seals_the_secrets(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.api_key}"}
    missing = await served.http.post(f"{served.url}/api/v1/connections", headers=headers,
                                     json={"platform": "eccube", "url": "https://shop.example.jp"})
    assert missing.status_code == 422
    assert all(name in missing.text for name in ("client_id", "client_secret", "webhook_secret"))
    made = await served.http.post(f"{served.url}/api/v1/connections", headers=headers, json={
        "platform": "eccube", "url": "https://shop.example.jp", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "webhook_secret": WEBHOOK_SECRET, "api_base": served.api})
    assert made.status_code == 200, made.text
    assert made.json()["webhook_url"].endswith("/webhooks/eccube/kumo") and "order.updated" in made.json()["topics"]
    async with served.runtime.engine.connect() as conn:
        row = (await conn.execute(select(platform_connections))).mappings().one()
    assert CLIENT_SECRET not in str(row["token"]) and WEBHOOK_SECRET not in str(row["secret"]), "sealed at rest"
    assert row["api_url"] == served.api and row["account_id"] == CLIENT_ID
    assert (await served.post([notice()])).json()["status"] == "queued"
    await served.runtime.eccube.run_due()
    assert await served.count(events) == 3


@pytest.mark.parametrize(("status", "changes", "facts"), [
    ("1", {"payment_date": None}, ["placed"]),
    ("4", {"payment_date": None}, ["placed"]),
    ("6", {}, ["placed", "paid"]),
    ("5", {}, ["placed", "paid", "shipped:12"]),
    ("3", {"payment_date": None}, ["placed", "cancelled"]),
    ("9", {}, ["placed", "paid", "shipped:12", "returned"]),
    ("7", {"payment_date": None}, []),
    ("8", {"payment_date": None}, []),
])
async def test_every_mapped_status_from_the_local_eccube(sqlite_url: str, status: str, changes: dict[str, Any],
                                                         facts: list[str]) -> None:
    shop = eccube.EccubeShop(CLIENT_ID, CLIENT_SECRET)
    shop.put(sample_order(OrderStatus={"id": status, "name": "?"}, **changes))
    async with running(sqlite_url, FrozenClock(T0)) as runtime, loopback(eccube.app(Sink(), [shop])) as api:
        store, _key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await connect(conn, store.id, "eccube", T0, secret=WEBHOOK_SECRET, account_id=CLIENT_ID,
                          token=CLIENT_SECRET, api_url=api, sealer=runtime.sealer)
        async with httpx.AsyncClient(timeout=10) as http, loopback(create_app(runtime, webhook_http=http)) as url:
            body = json.dumps([notice(action="created")]).encode()
            answer = await http.post(f"{url}/webhooks/eccube/kumo", content=body,
                                     headers={"X-ECCUBE-Signature": signature(WEBHOOK_SECRET, body)})
            assert answer.status_code == 200
            await runtime.eccube.run_due()
        async with runtime.engine.connect() as conn:
            stored = (await conn.execute(select(events.c.source_id, events.c.type, events.c.payload)
                                         .order_by(events.c.id))).all()
            ignored = (await conn.execute(select(func.count()).select_from(webhook_deliveries))).scalar_one()
    assert [s.source_id.removeprefix("eccube:order:12:") for s in stored] == facts
    assert ignored == (0 if facts else 1), "an order still at the payment page is recorded as ignored"
    for s in stored:
        if s.type == "order.shipped":
            assert s.payload["shipment"]["tracking_number"] == "4391-0012-3456"


def test_the_cli_connects_eccube_with_its_client_and_webhook_secret(tmp_path: Any) -> None:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    cli = CliRunner()
    app = build_app()
    made = cli.invoke(app, ["store", "add", "kumo", "--name", "Kumo", "--email-from", "shop@kumo.example",
                            "--database", database])
    assert made.exit_code == 0, made.output
    refused = cli.invoke(app, ["store", "connect", "kumo", "eccube", "--url", "https://shop.example.jp",
                               "--database", database])
    assert refused.exit_code != 0 and "--client-id" in refused.output and "--webhook-secret" in refused.output
    done = cli.invoke(app, ["store", "connect", "kumo", "eccube", "--url", "https://shop.example.jp",
                            "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
                            "--webhook-secret", WEBHOOK_SECRET, "--database", database, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["webhook_url"].endswith("/webhooks/eccube/kumo")
    shown = cli.invoke(app, ["store", "show", "kumo", "--database", database])
    assert shown.exit_code == 0 and CLIENT_SECRET not in shown.output and WEBHOOK_SECRET not in shown.output
    assert "https://shop.example.jp" in shown.output

"""Ecwid end to end over loopback: signed webhooks answered at once and recorded, the order fetched
afterwards from a local Ecwid REST API (dev/sinks/ecwid.py) holding Ecwid's published sample order,
stored on SQLite and PostgreSQL; refusals, replays, retries, rate limits, a crash after the answer,
connecting over the API and the CLI, and the history import page by page."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.responses import Response
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.clock import FrozenClock
from afterorder.db.platforms import connect
from afterorder.db.schema import customers, events, flow_runs, orders, platform_fetches, webhook_deliveries
from afterorder.db.stores import StoreRow
from afterorder.dev.sinks import ecwid
from afterorder.dev.sinks.base import SeenRequest, Sink
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.intake.ecwid import signature
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import add_store, running
from tests.loopback import loopback
from tests.platforms import sample_json

CLIENT_SECRET = "abcde123456789"
TOKEN = "secret_4T6cR2vUk8mPq1Zx"
ECWID_STORE = "1003"


def sample_order(**changes: Any) -> dict[str, Any]:
    """Ecwid's published "Get order details" sample, with the current API's ``id``."""
    order: dict[str, Any] = copy.deepcopy(sample_json("ecwid", "get_order.v3_response.json"))
    order.update({"id": "XJ12H", **changes})
    return order


def webhook(name: str = "webhook_order_created.json", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = sample_json("ecwid", name)
    body.update(changes)
    return body


@dataclass
class Served:
    http: httpx.AsyncClient
    url: str
    runtime: Runtime
    clock: FrozenClock
    store: StoreRow
    api_key: str
    sink: Sink
    ecwid: ecwid.EcwidStore
    ecwid_url: str

    async def post(self, body: dict[str, Any], secret: str = CLIENT_SECRET, *, sign: str | None = None
                   ) -> httpx.Response:
        raw = json.dumps(body).encode()
        given = sign if sign is not None else signature(secret, body["eventCreated"], body["eventId"])
        return await self.http.post(f"{self.url}/webhooks/ecwid/kumo?eventtype={body['eventType']}", content=raw,
                                    headers={"Content-Type": "application/json; charset=UTF-8",
                                             "X-Ecwid-Webhook-Signature": given})

    async def count(self, table: Any, **where: Any) -> int:
        async with self.runtime.engine.connect() as conn:
            query = select(func.count()).select_from(table)
            for column, value in where.items():
                query = query.where(table.c[column] == value)
            return int((await conn.execute(query)).scalar_one())

    async def stored(self) -> list[str]:
        async with self.runtime.engine.connect() as conn:
            return list((await conn.execute(select(events.c.source_id).order_by(events.c.id))).scalars())

    async def fetch_row(self) -> Any:
        async with self.runtime.engine.connect() as conn:
            return (await conn.execute(select(platform_fetches))).mappings().one()


@pytest.fixture
async def served(database_url: str, smtp_server: DevSmtpServer) -> AsyncIterator[Served]:
    clock = FrozenClock(T0)
    sink = Sink()
    store_data = ecwid.EcwidStore(token=TOKEN, orders=[sample_order()])
    async with running(database_url, clock, smtp_url=smtp_server.url) as runtime, \
            loopback(ecwid.app(sink, {ECWID_STORE: store_data})) as api:
        store, key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await connect(conn, store.id, "ecwid", T0, secret=CLIENT_SECRET, account_id=ECWID_STORE, token=TOKEN,
                          api_url=api, sealer=runtime.sealer)
        async with httpx.AsyncClient(timeout=10) as http, loopback(create_app(runtime, webhook_http=http)) as url:
            yield Served(http, url, runtime, clock, store, key, sink, store_data, api)


async def test_a_webhook_is_answered_before_the_fetch_and_the_sample_order_is_stored_after(served: Served) -> None:
    answer = await served.post(webhook())
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "queued"
    assert served.sink.requests == [] and await served.stored() == [], "nothing fetched before the answer"

    assert await served.runtime.ecwid.run_due() == 1
    [request] = served.sink.requests
    assert request.path == "/api/v3/1003/orders/XJ12H" and request.headers["authorization"] == f"Bearer {TOKEN}"
    assert await served.stored() == ["ecwid:order:XJ12H:placed", "ecwid:order:XJ12H:paid",
                                     "ecwid:order:XJ12H:shipped", "ecwid:order:XJ12H:delivered",
                                     "ecwid:order:XJ12H:refund:1"]
    async with served.runtime.engine.connect() as conn:
        order = (await conn.execute(select(orders))).mappings().one()
        customer = (await conn.execute(select(customers))).mappings().one()
        raw = (await conn.execute(select(events.c.raw, events.c.source))).first()
    assert order["number"] == "lala1028001" and str(order["total"]) == "2014.9700"
    assert customer["email"] == "mscott@gmail.com" and customer["accepts_marketing"] and customer["locale"] == "en"
    assert raw is not None and raw.source == "ecwid" and raw.raw["vendorOrderNumber"] == "lala1028001"
    row = await served.fetch_row()
    assert row["status"] == "done" and row["attempts"] == 1
    assert await served.count(flow_runs) >= 1, "a live order reaches the flows (order confirmation)"


async def test_a_running_server_fetches_on_its_own_and_the_customer_gets_the_confirmation(
        served: Served, smtp_server: DevSmtpServer) -> None:
    await served.runtime.start_workers()
    answer = await served.post(webhook())
    assert answer.json()["status"] == "queued"
    await smtp_server.inbox.wait_for(1, 10.0)
    assert (await served.fetch_row())["status"] == "done" and await served.count(events) == 5
    [mail, *_] = smtp_server.inbox.all()
    assert list(mail.recipients) == ["mscott@gmail.com"] and "lala1028001" in mail.subject


async def test_forged_signatures_another_ecwid_store_and_replays_store_nothing_twice(served: Served) -> None:
    forged = await served.post(webhook(), "another-apps-secret")
    missing = await served.post(webhook(), sign="")
    other_store = await served.post(webhook(storeId=2004))
    assert (forged.status_code, missing.status_code, other_store.status_code) == (401, 401, 404)
    assert "storeId 2004" in other_store.text
    assert await served.count(platform_fetches) == 0, "nothing refused is recorded"

    first = await served.post(webhook())
    replay = await served.post(webhook())
    assert first.json()["status"] == "queued" and replay.json()["status"] == "duplicate"
    await served.runtime.ecwid.run_due()
    assert await served.runtime.ecwid.run_due() == 0
    assert len(served.sink.requests) == 1, "a replayed event id is fetched no second time"
    # the same order reported again under a new event id (order.updated): fetched, but every fact is there already
    again = await served.post(webhook("webhook_order_updated.json", eventId="b0f3c1d2-update",
                                      data={"orderId": "XJ12H", "newPaymentStatus": "PARTIALLY_REFUNDED"}))
    assert again.json()["status"] == "queued"
    await served.runtime.ecwid.run_due()
    assert len(served.sink.requests) == 2 and await served.count(events) == 5 and await served.count(orders) == 1


async def test_a_shipped_order_going_out_for_delivery_adds_that_fact_alone(served: Served) -> None:
    served.ecwid.put(sample_order(paymentStatus="PAID", fulfillmentStatus="SHIPPED", trackingNumber="9400100000000001",
                                  refunds=[]))
    await served.post(webhook())
    await served.runtime.ecwid.run_due()
    assert await served.stored() == ["ecwid:order:XJ12H:placed", "ecwid:order:XJ12H:paid", "ecwid:order:XJ12H:shipped"]
    served.ecwid.put(sample_order(paymentStatus="PAID", fulfillmentStatus="OUT_FOR_DELIVERY",
                                  trackingNumber="9400100000000001", refunds=[]))
    later = await served.post(webhook("webhook_order_updated.json", eventId="b0f3c1d2-out",
                                      data={"orderId": "XJ12H", "newFulfillmentStatus": "OUT_FOR_DELIVERY"}))
    assert later.json()["status"] == "queued"
    await served.runtime.ecwid.run_due()
    assert (await served.stored())[3:] == ["ecwid:order:XJ12H:out_for_delivery"], "shipped is not stored twice"
    async with served.runtime.engine.connect() as conn:
        order = (await conn.execute(select(orders))).mappings().one()
    assert order["status"] == "shipped" and order["out_for_delivery_at"] is not None


async def test_a_failed_fetch_is_retried_with_backoff_and_a_rate_limit_is_a_delay(served: Served) -> None:
    answers = [Response("upstream down", 502), ecwid.rate_limited(120)]

    def trouble(_request: SeenRequest) -> Response | None:
        return answers.pop(0) if answers else None

    served.sink.trouble = trouble
    await served.post(webhook())
    await served.runtime.ecwid.run_due()
    row = await served.fetch_row()
    assert row["status"] == "pending" and row["attempts"] == 1 and "502" in row["last_error"]
    assert await served.runtime.ecwid.run_due() == 0, "not again before the backoff"
    served.clock.advance(11)
    await served.runtime.ecwid.run_due()
    row = await served.fetch_row()
    assert row["attempts"] == 1, "a rate limit answer is a delay, not a failure"
    assert "rate limiting" in row["last_error"] and row["next_attempt_at"] == T0 + timedelta(seconds=11 + 120)
    served.clock.advance(60)
    assert await served.runtime.ecwid.run_due() == 0, "Retry-After (120 s) is honoured"
    served.clock.advance(61)
    assert await served.runtime.ecwid.run_due() == 1
    assert (await served.fetch_row())["status"] == "done" and await served.count(events) == 5


async def test_a_deleted_order_ends_the_fetch_and_an_unused_topic_is_recorded_as_ignored(served: Served) -> None:
    await served.post(webhook(data={"orderId": "GONE1"}))
    await served.runtime.ecwid.run_due()
    row = await served.fetch_row()
    assert row["status"] == "failed" and "Order #GONE1 not found" in row["last_error"]
    deleted = await served.post(webhook("webhook_order_deleted.legacy_2020.json", eventId="d-1"))
    assert deleted.json()["status"] == "ignored"
    assert await served.count(webhook_deliveries, topic="order.deleted") == 1 and await served.count(events) == 0


async def test_a_crash_after_the_answer_still_fetches(served: Served, database_url: str) -> None:
    await served.post(webhook())
    # another process (the first one died after answering) finds the recorded delivery and fetches it
    async with running(database_url, FrozenClock(T0)) as other:
        assert await other.ecwid.run_due() == 1
    assert await served.count(events) == 5


async def test_an_unfinished_order_is_an_abandoned_checkout(served: Served) -> None:
    served.ecwid.put(sample_order(id="RA1SD", paymentStatus="INCOMPLETE", fulfillmentStatus="AWAITING_PROCESSING"))
    answer = await served.post(webhook("webhook_unfinished_order_created.json"))
    assert answer.json()["status"] == "queued"
    await served.runtime.ecwid.run_due()
    assert await served.stored() == ["ecwid:95ed494f-362d-4fca-933d-f5c7064b04bb"]
    async with served.runtime.engine.connect() as conn:
        kind = (await conn.execute(select(events.c.type))).scalar_one()
    assert kind == "checkout.updated"


async def test_a_customer_webhook_fetches_the_customer_with_their_marketing_consent(served: Served) -> None:
    await served.post(webhook())
    await served.runtime.ecwid.run_due()
    served.ecwid.customers["40201284"] = {"id": 40201284, "email": "mscott@gmail.com", "acceptMarketing": False,
                                          "billingPerson": {"name": "Michael Scott", "countryCode": "US"}}
    answer = await served.post({"eventId": "c7a1e2f3-customer", "eventCreated": 1765100000, "storeId": 1003,
                                "entityId": 40201284, "eventType": "customer.updated"})
    assert answer.json()["status"] == "queued"
    await served.runtime.ecwid.run_due()
    assert served.sink.requests[-1].path == "/api/v3/1003/customers/40201284"
    async with served.runtime.engine.connect() as conn:
        customer = (await conn.execute(select(customers))).mappings().one()
    assert customer["email"] == "mscott@gmail.com" and customer["accepts_marketing"] is False, \
        "the customer unsubscribed in Ecwid after the order that subscribed them"


async def test_connecting_over_the_api_names_what_is_missing(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.api_key}"}
    missing = await served.http.post(f"{served.url}/api/v1/connections", headers=headers,
                                     json={"platform": "ecwid", "client_secret": CLIENT_SECRET})
    assert missing.status_code == 422
    assert "store_id" in missing.text and "token" in missing.text
    made = await served.http.post(f"{served.url}/api/v1/connections", headers=headers, json={
        "platform": "ecwid", "store_id": 1003, "token": TOKEN, "client_secret": CLIENT_SECRET,
        "api_base": served.ecwid_url})
    assert made.status_code == 200, made.text
    assert made.json()["webhook_url"].endswith("/webhooks/ecwid/kumo") and "order.updated" in made.json()["topics"]
    assert (await served.post(webhook())).json()["status"] == "queued"


@pytest.mark.parametrize(("payment", "fulfillment", "facts"), [
    ("AWAITING_PAYMENT", "AWAITING_PROCESSING", ["placed"]),
    ("PAID", "PROCESSING", ["placed", "paid"]),
    ("PAID", "SHIPPED", ["placed", "paid", "shipped"]),
    ("PAID", "OUT_FOR_DELIVERY", ["placed", "paid", "shipped", "out_for_delivery"]),
    ("PAID", "READY_FOR_PICKUP", ["placed", "paid", "shipped"]),
    ("PAID", "DELIVERED", ["placed", "paid", "shipped", "delivered"]),
    ("PAID", "RETURNED", ["placed", "paid", "returned"]),
    ("CANCELLED", "AWAITING_PROCESSING", ["placed", "cancelled"]),
    ("REFUNDED", "SHIPPED", ["placed", "paid", "shipped", "refund:1"]),
])
async def test_every_mapped_status_from_the_local_ecwid(sqlite_url: str, payment: str, fulfillment: str,
                                                        facts: list[str]) -> None:
    clock = FrozenClock(T0)
    order = sample_order(paymentStatus=payment, fulfillmentStatus=fulfillment, trackingNumber="9400100000000001")
    async with running(sqlite_url, clock) as runtime, \
            loopback(ecwid.app(Sink(), {ECWID_STORE: ecwid.EcwidStore(TOKEN, [order])})) as api:
        store, _key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await connect(conn, store.id, "ecwid", T0, secret=CLIENT_SECRET, account_id=ECWID_STORE, token=TOKEN,
                          api_url=api, sealer=runtime.sealer)
        async with httpx.AsyncClient(timeout=10) as http, loopback(create_app(runtime, webhook_http=http)) as url:
            body = webhook()
            answer = await http.post(f"{url}/webhooks/ecwid/kumo", content=json.dumps(body).encode(), headers={
                "X-Ecwid-Webhook-Signature": signature(CLIENT_SECRET, body["eventCreated"], body["eventId"])})
            assert answer.status_code == 200
            await runtime.ecwid.run_due()
        async with runtime.engine.connect() as conn:
            stored = (await conn.execute(select(events.c.source_id, events.c.type, events.c.payload)
                                         .order_by(events.c.id))).all()
            status = (await conn.execute(select(orders.c.status))).scalar_one()
    assert [s.source_id.removeprefix("ecwid:order:XJ12H:") for s in stored] == facts
    shipped = [s for s in stored if s.type == "order.shipped"]
    for s in shipped:
        assert s.payload["shipment"]["tracking_number"] == "9400100000000001"
    assert status  # the order's projection follows the events


def test_the_cli_connects_ecwid_and_imports_its_history_page_by_page(tmp_path: Any) -> None:

    database = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    cli_app = build_app()
    added = runner.invoke(cli_app, ["store", "add", "kumo", "--name", "雲茶舗", "--email-from", "shop@kumo.example",
                                    "--database", database])
    assert added.exit_code == 0, added.output
    many = [sample_order(id=f"A{n:04d}", orderNumber=2000 + n, vendorOrderNumber=None, email=f"c{n}@example.jp",
                         customerId=n, paymentStatus="PAID", fulfillmentStatus="DELIVERED", refunds=[])
            for n in range(230)]
    many.append(sample_order(id="CART1", paymentStatus="INCOMPLETE"))
    sink = Sink()
    ready = threading.Event()
    url: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        async def main() -> None:
            async with loopback(ecwid.app(sink, {ECWID_STORE: ecwid.EcwidStore(TOKEN, many)})) as found:
                url.append(found)
                ready.set()
                await asyncio.to_thread(stop.wait)
        asyncio.run(main())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert ready.wait(10)
        refused = runner.invoke(cli_app, ["store", "connect", "kumo", "ecwid", "--database", database])
        assert refused.exit_code == 1
        assert all(f"{option}:" in refused.output for option in ("--store-id", "--token", "--client-secret"))
        connected = runner.invoke(cli_app, ["store", "connect", "kumo", "ecwid", "--store-id", ECWID_STORE,
                                            "--token", TOKEN, "--client-secret", CLIENT_SECRET, "--api-base", url[0],
                                            "--json", "--database", database])
        assert connected.exit_code == 0, connected.output
        assert json.loads(connected.stdout)["webhook_url"].endswith("/webhooks/ecwid/kumo")
        with closing(sqlite3.connect(tmp_path / "cli.db")) as db:  # the token is a secret: stored sealed
            stored = db.execute("SELECT account_id, token FROM platform_connections").fetchone()
        assert stored[0] == ECWID_STORE and stored[1].startswith("sealed:") and TOKEN not in stored[1]
        imported = runner.invoke(cli_app, ["import", "ecwid", "--store", "kumo", "--json", "--database", database])
        assert imported.exit_code == 0, imported.output
        report = json.loads(imported.stdout.strip().splitlines()[-1])
        assert report["orders"] == 230 and report["pages"] == 3
        assert report["events_stored"] == 230 * 4
        assert [r.path for r in sink.requests] == ["/api/v3/1003/orders"] * 3
        again = runner.invoke(cli_app, ["import", "ecwid", "--store", "kumo", "--json", "--database", database])
        report = json.loads(again.stdout.strip().splitlines()[-1])
        assert report["events_stored"] == 0 and report["events_duplicate"] == 230 * 4
    finally:
        stop.set()
        thread.join()


async def test_the_history_import_waits_out_the_rate_limit_and_reads_every_page(sqlite_url: str) -> None:
    from afterorder.intake.ecwid_api import EcwidApi
    from afterorder.intake.ecwid_history import import_orders

    many = [sample_order(id=f"B{n:03d}", paymentStatus="PAID", fulfillmentStatus="PROCESSING") for n in range(25)]
    throttled = [ecwid.rate_limited(7)]
    sink = Sink(trouble=lambda _r: throttled.pop(0) if throttled else None)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with running(sqlite_url, FrozenClock(T0)) as runtime, \
            loopback(ecwid.app(sink, {ECWID_STORE: ecwid.EcwidStore(TOKEN, many)})) as api:
        store, _key = await add_store(runtime)
        async with httpx.AsyncClient(timeout=10) as http:
            seen: list[tuple[int, int]] = []
            report = await import_orders(runtime.intake, store, EcwidApi(http, ECWID_STORE, TOKEN, api), T0,
                                         page_size=10, sleep=sleep,
                                         on_page=lambda r: seen.append((r.orders, r.total)))
        async with runtime.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(events))).scalar_one()
            runs = (await conn.execute(select(func.count()).select_from(flow_runs))).scalar_one()
    assert waits == [7.0], "Retry-After is waited, then the same page asked again"
    assert seen == [(10, 25), (20, 25), (25, 25)]
    assert report.orders == 25 and report.stored == 50 == stored
    assert runs == 0, "history starts no flow: no confirmation for past orders"
    assert [r.path for r in sink.requests] == ["/api/v3/1003/orders"] * 4

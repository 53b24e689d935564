"""Attribution: an order placed within the window after a click on a message is credited to that
message once, with its revenue (last touch); orders outside the window or without a click are not."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.schema import attributions, orders, outbox
from afterorder.domain import Event, EventType
from afterorder.runtime import Runtime
from afterorder.tracking.engagement import record
from afterorder.tracking.report import engagement_report
from afterorder.tracking.settings import save_settings
from tests.conftest import T0
from tests.factories import add_store, order_event, running


def placed(order_id: str, at: Any, customer: str = "cust-A1", total: int = 15000) -> Event:
    body = order_event("order.placed", order_id, at)
    body["customer"]["id"] = customer
    body["order"]["total"] = total
    return Event.model_validate(body)


async def settle(runtime: Runtime) -> None:
    while await runtime.scheduler.run_due():
        pass


async def credited(runtime: Runtime) -> dict[str, dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(attributions, orders.c.external_id).join(
            orders, orders.c.id == attributions.c.order_id))
        return {r["external_id"]: dict(r) for r in rows.mappings()}


async def message_key(runtime: Runtime, order: str) -> tuple[str, int]:
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(select(outbox.c.idempotency_key, outbox.c.id).join(
            orders, orders.c.id == outbox.c.order_id).where(orders.c.external_id == order))).one()
    return row.idempotency_key, row.id


async def test_an_order_after_a_click_is_credited_once_with_its_revenue(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await runtime.intake.ingest(store, [placed("A1", T0)])
        await settle(runtime)
        key, outbox_id = await message_key(runtime, "A1")
        clock.advance(3600)
        assert await record(runtime.engine, runtime.intake, store, key, EventType.MESSAGE_CLICKED, clock.now(),
                            url="https://www.kumo.example/p/1")
        clock.advance(3600)
        await record(runtime.engine, runtime.intake, store, key, EventType.MESSAGE_CLICKED, clock.now(),
                     url="https://www.kumo.example/p/2")
        second_click = clock.now()
        clock.advance(2 * 86400)
        await runtime.intake.ingest(store, [placed("A2", clock.now(), total=4200)])
        await runtime.intake.ingest(store, [placed("A2", clock.now(), total=4200)])  # sent again: a duplicate
        assert list(await credited(runtime)) == ["A2"], "two clicks, one order sent twice: credited once"
        a2 = (await credited(runtime))["A2"]
        assert a2["outbox_id"] == outbox_id and a2["flow_id"] == "order-confirmation" and a2["step"] == 0
        assert a2["template"] == "order-confirmation" and a2["kind"] == "click"
        assert a2["revenue"] == Decimal("4200") and a2["currency"] == "JPY"
        assert a2["touched_at"] == second_click, "last touch"

        clock.advance(4 * 86400)  # 6 days after the last click: outside the default 5-day window
        await runtime.intake.ingest(store, [placed("A3", clock.now())])
        await runtime.intake.ingest(store, [placed("B1", clock.now() - timedelta(days=5), customer="cust-B")])
        assert set(await credited(runtime)) == {"A2"}, "outside the window, or never clicked: not credited"
        async with runtime.engine.connect() as conn:
            report = await engagement_report(conn, store.id, "order-confirmation")
        first = next(r for r in report if r["step"] == 0)
        assert (first["clicked"], first["clicks"], first["opened"], first["orders"]) == (1, 2, 0, 1)
        assert {k: Decimal(v) for k, v in first["revenue"].items()} == {"JPY": Decimal(4200)}


async def test_opens_count_only_when_the_store_says_so_and_never_machine_opens(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await runtime.intake.ingest(store, [placed("O1", T0)])
        await settle(runtime)
        key, _ = await message_key(runtime, "O1")
        clock.advance(600)
        await record(runtime.engine, runtime.intake, store, key, EventType.MESSAGE_OPENED, clock.now(),
                     user_agent="Mozilla/5.0")  # Apple's proxy
        clock.advance(600)
        await runtime.intake.ingest(store, [placed("O2", clock.now())])
        assert await credited(runtime) == {}, "opens do not count by default"
        async with runtime.engine.begin() as conn:
            await save_settings(conn, store, clock.now(), attribute_opens=True, attribution_days=2)
        await runtime.intake.ingest(store, [placed("O3", clock.now())])
        assert await credited(runtime) == {}, "a machine open is no touch"
        await record(runtime.engine, runtime.intake, store, key, EventType.MESSAGE_OPENED, clock.now(),
                     user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15")
        clock.advance(86400)
        await runtime.intake.ingest(store, [placed("O4", clock.now())])
        assert (await credited(runtime))["O4"]["kind"] == "open"

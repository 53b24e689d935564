"""Flows ask the same compiled questions about a customer as segments do, at the moment a step runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.schema import flow_runs, outbox
from afterorder.domain import Event
from afterorder.segments import membership
from tests.conftest import T0
from tests.factories import add_store, order_event, running

FLOW = """\
id: tea-thanks
enabled_by_default: true
trigger:
  event: order.placed
  conditions: {bought: {category: tea}}
steps:
  - wait: 1d
  - if: {all: [{field: stats.is_repeat, value: true}, {in_segment: big-spenders}]}
    then:
      - send: {template: delivery-follow-up, category: transactional}
    else:
      - send: {template: order-confirmation, category: transactional}
"""


def tea_order(order_id: str, customer: str, category: str, days: float, total: int = 15000) -> dict[str, Any]:
    from datetime import timedelta

    event = order_event("order.placed", order_id, T0 + timedelta(days=days), email=f"{customer}@example.jp")
    event["customer"]["id"] = customer
    event["order"]["total"] = total
    event["order"]["lines"][0]["category"] = category
    return event


async def test_trigger_and_if_step_read_statistics_and_segments_when_they_run(database_url: str,
                                                                              tmp_path: Any) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "tea-thanks.yaml").write_text(FLOW)
    clock = FrozenClock(T0)
    async with running(database_url, clock, flow_dirs=(flows,)) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            for flow in ("order-confirmation", "shipping-confirmation", "delivery-follow-up"):
                await runtime.catalog.set_enabled(conn, store, flow, False, T0)
            await membership.define(conn, store, "big-spenders",
                                    {"field": "stats.total_spent", "op": "gte", "value": 20000}, T0)
        events = [tea_order("K1", "kenta", "teaware", 0),   # no tea: the trigger condition says no
                  tea_order("M1", "mio", "tea", 0),         # first order: the else branch
                  tea_order("R1", "rin", "tea", 0)]         # rin orders again before the step runs
        await runtime.intake.ingest(store, [Event.model_validate(e) for e in events])
        async with runtime.engine.connect() as conn:
            started = {r.customer_id for r in await conn.execute(select(flow_runs.c.customer_id))}
        assert len(started) == 2  # mio and rin, not kenta

        clock.advance(3600)
        await runtime.intake.ingest(store, [Event.model_validate(tea_order("R2", "rin", "teaware", 1 / 24))])
        clock.advance(86400)
        while await runtime.scheduler.run_due():
            pass
        async with runtime.engine.connect() as conn:
            sent = {r.recipient: r.template for r in await conn.execute(select(outbox.c.recipient, outbox.c.template))}
        assert sent == {"mio@example.jp": "order-confirmation", "rin@example.jp": "delivery-follow-up"}

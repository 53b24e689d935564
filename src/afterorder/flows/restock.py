"""A restock starts the back-in-stock notice: on a ``product.restocked`` event, every open
subscription of that product (``promotions.back_in_stock``) starts one run of the ``back-in-stock``
flow (when the store has it enabled) and is marked notified, so each subscriber is told once.  The
runs wake in batches, ``RESTOCK_BATCH`` subscribers every ``RESTOCK_SPACING``, so the restock of a
popular item does not send every mail in the same second.  The run's trigger is the restock event,
so the template has the product (``trigger.product``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import flow_runs, stock_subscriptions
from afterorder.db.stores import StoreRow
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.urgency import priority

FLOW_ID = "back-in-stock"
RESTOCK_BATCH = 50
RESTOCK_SPACING = timedelta(minutes=1)


@dataclass(frozen=True)
class Restocked:
    event_id: int
    product_id: str
    occurred_at: datetime


async def on_restock(conn: AsyncConnection, catalog: FlowCatalog, store: StoreRow, restocked: Sequence[Restocked],
                     now: datetime) -> int:
    """Start the notice for every open subscription of the restocked products; returns how many runs started."""
    if not restocked:
        return 0
    spec = next((s for s in await catalog.enabled(conn, store) if s.id == FLOW_ID), None)
    if spec is None:
        return 0  # the flow is off: the subscriptions keep waiting for a restock while it is on
    started = 0
    for restock in restocked:
        waiting = (await conn.execute(select(stock_subscriptions).where(
            stock_subscriptions.c.store_id == store.id, stock_subscriptions.c.product_id == restock.product_id,
            stock_subscriptions.c.notified_at.is_(None)).order_by(stock_subscriptions.c.id))).all()
        if not waiting:
            continue
        await catalog.remember(conn, store.id, [spec], now)
        for n, sub in enumerate(waiting):
            wake = now + RESTOCK_SPACING * (n // RESTOCK_BATCH)
            result = await conn.execute(flow_runs.insert().values(
                store_id=store.id, flow_id=spec.id, flow_version=spec.version,
                subject_key=f"customer:{sub.customer_id}", customer_id=sub.customer_id, order_id=None,
                trigger_event_id=restock.event_id, status="waiting", step=0, anchor_at=wake, wake_at=wake,
                started_at=now, updated_at=now, priority=priority(spec, 0)))
            inserted = result.inserted_primary_key
            assert inserted is not None
            await conn.execute(stock_subscriptions.update().where(stock_subscriptions.c.id == bindparam("sid"))
                               .values(notified_at=now, run_id=bindparam("rid")), [{"sid": sub.id, "rid": inserted[0]}])
            started += 1
    return started

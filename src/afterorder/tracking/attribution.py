"""Attribution: an order placed within the store's window (default 5 days) after a click on a
message (or a human open, when the store counts opens) is credited to that message, its flow and
step, with the order's total.  Last touch wins; an order is credited once (a unique key).

Computed when ``order.placed`` is stored, in the same transaction: one indexed query for the group,
then one per order whose customer touched a message in the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import attributions, engagements, orders
from afterorder.db.statements import insert_ignore
from afterorder.tracking.settings import TrackingSettings

_COLUMNS = ("store_id", "order_id", "outbox_id", "flow_id", "step", "template", "revenue", "currency", "kind",
            "touched_at", "created_at")


async def attribute_orders(conn: AsyncConnection, store_id: int, settings: TrackingSettings,
                           placed: Sequence[tuple[int, int, datetime]], now: datetime) -> int:
    """Credit each (order id, customer id, placed at) to its last touch; returns how many were credited."""
    credited = 0
    touch = engagements.c.kind == "click"
    if settings.attribute_opens:
        touch = or_(touch, and_(engagements.c.kind == "open", engagements.c.machine_open.is_(False)))
    if not placed:
        return 0
    window = timedelta(days=settings.attribution_days)
    # One query tells which of these customers touched any message in the window at all; only their
    # orders need the per-order look-up (most orders come from customers who clicked nothing).
    touched = set((await conn.execute(
        select(engagements.c.customer_id).distinct()
        .where(engagements.c.store_id == store_id, engagements.c.customer_id.in_({c for _, c, _ in placed}), touch,
               engagements.c.at >= min(at for _, _, at in placed) - window,
               engagements.c.at <= max(at for _, _, at in placed)))).scalars())
    for order_id, customer_id, placed_at in placed:
        if customer_id not in touched:
            continue
        last = (await conn.execute(
            select(engagements.c.outbox_id, engagements.c.flow_id, engagements.c.step, engagements.c.template,
                   engagements.c.kind, engagements.c.at)
            .where(engagements.c.store_id == store_id, engagements.c.customer_id == customer_id, touch,
                   engagements.c.at <= placed_at,
                   engagements.c.at >= placed_at - timedelta(days=settings.attribution_days))
            .order_by(engagements.c.at.desc(), engagements.c.id.desc()).limit(1))).first()
        if last is None:
            continue
        order = (await conn.execute(select(orders.c.total, orders.c.currency).where(
            orders.c.store_id == store_id, orders.c.id == order_id))).one()
        result = await conn.execute(insert_ignore(attributions, _COLUMNS), {
            "store_id": store_id, "order_id": order_id, "outbox_id": last.outbox_id, "flow_id": last.flow_id,
            "step": last.step, "template": last.template, "revenue": order.total, "currency": order.currency,
            "kind": last.kind, "touched_at": last.at, "created_at": now})
        credited += max(result.rowcount, 0)
    return credited

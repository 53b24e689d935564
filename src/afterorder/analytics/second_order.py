"""Second-order rate of first-time buyers, with and without the post-purchase flows.

First-time buyers: customers whose first counted order (not cancelled, as in ``retention``) was
placed in the period.  *With* the flows: a message of a post-purchase flow about that first order
was sent (outbox status ``sent``); *without*: none was.  The second-order rate of a group is the
share of its customers with a second counted order placed by the end of the period.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.analytics.retention import end_of, start_of
from afterorder.db.schema import flow_runs, orders, outbox
from afterorder.db.stores import StoreRow


@dataclass(frozen=True)
class Group:
    customers: int
    second_orders: int

    @property
    def rate(self) -> float | None:
        return None if self.customers == 0 else self.second_orders * 100 / self.customers


@dataclass(frozen=True)
class SecondOrderRates:
    with_flows: Group
    without_flows: Group


async def second_order_rates(conn: AsyncConnection, store: StoreRow, start: date, end: date,
                             post_purchase_flows: Collection[str]) -> SecondOrderRates:
    zone = ZoneInfo(store.timezone)
    begin, finish = start_of(start, zone), end_of(end, zone)
    counted = and_(orders.c.store_id == store.id, orders.c.customer_id.is_not(None), orders.c.cancelled_at.is_(None),
                   orders.c.placed_at < finish)
    rows = (await conn.execute(select(orders.c.id, orders.c.customer_id, orders.c.placed_at).where(counted)
                               .order_by(orders.c.customer_id, orders.c.placed_at, orders.c.id))).all()
    first: dict[int, tuple[int, object]] = {}
    count: dict[int, int] = {}
    for r in rows:
        first.setdefault(r.customer_id, (r.id, r.placed_at))
        count[r.customer_id] = count.get(r.customer_id, 0) + 1
    buyers = {c: o for c, (o, at) in first.items() if at >= begin}  # type: ignore[operator]
    touched: set[int] = set()
    if buyers and post_purchase_flows:
        sent = await conn.execute(
            select(func.distinct(outbox.c.order_id))
            .select_from(outbox.join(flow_runs, flow_runs.c.id == outbox.c.run_id))
            .where(outbox.c.store_id == store.id, outbox.c.status == "sent",
                   flow_runs.c.flow_id.in_(list(post_purchase_flows)), outbox.c.order_id.is_not(None)))
        touched = {int(r[0]) for r in sent}
    with_n = with_2 = without_n = without_2 = 0
    for customer, order_id in buyers.items():
        again = count[customer] >= 2
        if order_id in touched:
            with_n, with_2 = with_n + 1, with_2 + again
        else:
            without_n, without_2 = without_n + 1, without_2 + again
    return SecondOrderRates(Group(with_n, with_2), Group(without_n, without_2))

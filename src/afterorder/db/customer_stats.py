"""Customer statistics, kept current in the events' own transaction.

For every customer an event group touches with an order, the statistics are recomputed from their
orders (not patched by increments), so a late, repeated or out-of-order event can never leave them
wrong. Purchases are orders neither cancelled nor refunded: they make the order count, the amount
spent and the first / last order time; refunds and cancellations are counted apart.

RFM scores (quintiles 1–5 of recency, frequency and spend) and the spend percentile are relative to
the whole store, so they are refreshed once a day (``refresh_rfm``), not per event.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, TypedDict

from sqlalchemy import Executable, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.key_lists import in_keys
from afterorder.db.schema import customer_stats, order_lines, orders
from afterorder.db.statements import _typed, _values, execute_many

CHUNK = 500
COMPUTED = ("order_count", "total_spent", "first_order_at", "last_order_at", "refund_count", "cancel_count",
            "international", "products", "categories")
COLUMNS = ("store_id", "customer_id", *COMPUTED, "updated_at")


@cache
def upsert_stats() -> Executable:
    kept = ", ".join(f"{c} = excluded.{c}" for c in (*COMPUTED, "updated_at"))
    return _typed(f"INSERT INTO customer_stats ({', '.join(COLUMNS)}) VALUES ({_values(COLUMNS)}) "
                  f"ON CONFLICT (store_id, customer_id) DO UPDATE SET {kept}", customer_stats, COLUMNS, ())


@cache
def upsert_engagement(column: str) -> Executable:
    """Move ``last_open_at`` / ``last_click_at`` forward (never back), creating the row if needed."""
    columns = ("store_id", "customer_id", *COMPUTED, column, "updated_at")
    sql = (f"INSERT INTO customer_stats ({', '.join(columns)}) VALUES ({_values(columns)}) "
           f"ON CONFLICT (store_id, customer_id) DO UPDATE SET {column} = CASE WHEN customer_stats.{column} IS NULL "
           f"OR customer_stats.{column} < excluded.{column} THEN excluded.{column} ELSE customer_stats.{column} END")
    return _typed(sql, customer_stats, columns, ())


@dataclass
class _Tally:
    order_count: int = 0
    total_spent: Decimal = Decimal(0)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    refund_count: int = 0
    cancel_count: int = 0
    international: bool = False
    products: dict[str, str] = field(default_factory=dict)  # by product id and by SKU
    categories: dict[str, str] = field(default_factory=dict)

    def bought(self, into: dict[str, str], key: str | None, day: str) -> None:
        if key and into.get(key, "") < day:
            into[key] = day


def _empty(store_id: int, customer_id: int, now: datetime) -> dict[str, Any]:
    return {"store_id": store_id, "customer_id": customer_id, "order_count": 0, "total_spent": Decimal(0),
            "first_order_at": None, "last_order_at": None, "refund_count": 0, "cancel_count": 0,
            "international": False, "products": {}, "categories": {}, "updated_at": now}


# Built once: every batch of order events recomputes its buyers' statistics.
_CUSTOMER_ORDERS = select(
    orders.c.id, orders.c.customer_id, orders.c.total, orders.c.placed_at, orders.c.cancelled_at,
    orders.c.refunded_at, orders.c.shipping_address["country"].as_string().label("country"),
).where(orders.c.store_id == bindparam("store"), in_keys(orders.c.customer_id, "ids"))
_BOUGHT = select(order_lines.c.order_id, order_lines.c.product_id, order_lines.c.sku, order_lines.c.category).where(
    order_lines.c.store_id == bindparam("store"), in_keys(order_lines.c.order_id, "ids"))


async def refresh_stats(conn: AsyncConnection, store_id: int, store_country: str, customer_ids: Iterable[int],
                        now: datetime) -> None:
    """Recompute the statistics of these customers from their orders."""
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        tallies = {c: _Tally() for c in chunk}
        bought_on: dict[int, tuple[int, str]] = {}
        rows = await conn.execute(_CUSTOMER_ORDERS, {"store": store_id, "ids": chunk})
        for row in rows:
            tally = tallies[row.customer_id]
            if row.cancelled_at is not None:
                tally.cancel_count += 1
                continue
            country = row.country  # read in the database: no JSON to decode per order
            if country and country.upper() != store_country:
                tally.international = True
            if row.refunded_at is not None:
                tally.refund_count += 1
                continue
            tally.order_count += 1
            tally.total_spent += row.total or Decimal(0)
            if tally.first_order_at is None or row.placed_at < tally.first_order_at:
                tally.first_order_at = row.placed_at
            if tally.last_order_at is None or row.placed_at > tally.last_order_at:
                tally.last_order_at = row.placed_at
            bought_on[row.id] = (row.customer_id, row.placed_at.date().isoformat())
        order_ids = sorted(bought_on)
        for first in range(0, len(order_ids), CHUNK):
            lines = await conn.execute(_BOUGHT, {"store": store_id, "ids": order_ids[first:first + CHUNK]})
            for line in lines:
                customer_id, day = bought_on[line.order_id]
                tally = tallies[customer_id]
                tally.bought(tally.products, line.product_id, day)
                tally.bought(tally.products, line.sku, day)
                tally.bought(tally.categories, line.category, day)
        await execute_many(conn, upsert_stats(), [
            {"store_id": store_id, "customer_id": c, "order_count": t.order_count, "total_spent": t.total_spent,
             "first_order_at": t.first_order_at, "last_order_at": t.last_order_at, "refund_count": t.refund_count,
             "cancel_count": t.cancel_count, "international": t.international, "products": t.products,
             "categories": t.categories, "updated_at": now}
            for c, t in tallies.items()])


_STALE = (
    select(orders.c.customer_id).distinct()
    .select_from(orders.outerjoin(customer_stats, (customer_stats.c.store_id == orders.c.store_id)
                                  & (customer_stats.c.customer_id == orders.c.customer_id)))
    .where(orders.c.store_id == bindparam("store"), orders.c.customer_id.is_not(None),
           (orders.c.updated_at >= bindparam("since", type_=orders.c.updated_at.type))
           | customer_stats.c.customer_id.is_(None) | (customer_stats.c.updated_at < orders.c.updated_at))
)


async def refresh_stale_stats(conn: AsyncConnection, store_id: int, store_country: str, since: datetime,
                              now: datetime) -> int:
    """Recompute the statistics of the store's customers whose orders changed since ``since`` or after
    their statistics were last computed; returns how many.

    An import stores its batches without statistics and calls this once at its end: each customer
    is computed once instead of once per batch.  The second condition also catches up on an import
    that was killed before its end."""
    rows = await conn.execute(_STALE.params(store=store_id, since=since))
    buyers = [r.customer_id for r in rows]
    await refresh_stats(conn, store_id, store_country, buyers, now)
    return len(buyers)


async def record_engagement(conn: AsyncConnection, store_id: int, seen: Sequence[tuple[int, str, datetime]],
                            now: datetime) -> None:
    """``(customer id, "open" | "click", when)``: keep each customer's latest open and click."""
    for kind, column in (("open", "last_open_at"), ("click", "last_click_at")):
        params = [{**_empty(store_id, customer_id, now), column: at}
                  for customer_id, what, at in seen if what == kind]
        if params:
            await conn.execute(upsert_engagement(column), params)


def quintiles(values: Sequence[float], higher_is_better: bool = True) -> list[int]:
    """Score each value 1–5 by its quintile in the list (ties share a score); 5 is best."""
    ordered = sorted(values)
    count = len(ordered)
    scores = []
    for value in values:
        # rank = share of values strictly below, with ties placed at their midpoint
        below = bisect_left(ordered, value)
        equal = bisect_right(ordered, value) - below
        rank = (below + equal / 2) / count
        score = min(5, int(rank * 5) + 1)
        scores.append(score if higher_is_better else 6 - score)
    return scores


class RfmScore(TypedDict):
    """One buyer's daily scores, as the update of ``customer_stats`` binds them."""

    cid: int
    rfm_recency: int
    rfm_frequency: int
    rfm_monetary: int
    spend_percentile: Decimal
    rfm_updated_at: datetime


async def rfm_scores(conn: AsyncConnection, store_id: int, now: datetime) -> list[RfmScore]:
    """Score every buyer of the store 1–5 on recency, frequency and spend (reads only)."""
    rows = (await conn.execute(select(
        customer_stats.c.customer_id, customer_stats.c.last_order_at, customer_stats.c.order_count,
        customer_stats.c.total_spent,
    ).where(customer_stats.c.store_id == store_id, customer_stats.c.order_count > 0))).all()
    if not rows:
        return []
    recency = quintiles([(now - r.last_order_at).total_seconds() for r in rows], higher_is_better=False)
    frequency = quintiles([float(r.order_count) for r in rows])
    spend = [float(r.total_spent) for r in rows]
    monetary = quintiles(spend)
    ordered = sorted(spend)
    return [{"cid": r.customer_id, "rfm_recency": rec, "rfm_frequency": fre, "rfm_monetary": mon,
             "spend_percentile": Decimal(str(round(bisect_right(ordered, s) / len(ordered), 4))),
             "rfm_updated_at": now}
            for r, rec, fre, mon, s in zip(rows, recency, frequency, monetary, spend, strict=True)]


async def write_rfm(conn: AsyncConnection, store_id: int, scores: Sequence[RfmScore]) -> None:
    if scores:
        await conn.execute(update(customer_stats).where(customer_stats.c.store_id == store_id,
                                                        customer_stats.c.customer_id == bindparam("cid")),
                           list(scores))


async def refresh_rfm(conn: AsyncConnection, store_id: int, now: datetime) -> int:
    """Score every buyer of the store 1–5 on recency, frequency and spend; returns how many."""
    scores = await rfm_scores(conn, store_id, now)
    await write_rfm(conn, store_id, scores)
    return len(scores)


async def refresh_stale_rfm(engine: AsyncEngine, now: datetime, every: timedelta = timedelta(days=1),
                            reader: AsyncEngine | None = None) -> list[int]:
    """The daily job: rescore the stores whose RFM scores are older than ``every``; returns their ids.

    The buyers are read and scored on ``reader`` (``database.open_reader``: on SQLite a connection of
    its own; ``engine`` when not given), so the write transaction holds only the update."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(customer_stats.c.store_id, func.min(customer_stats.c.rfm_updated_at))
                                   .where(customer_stats.c.order_count > 0).group_by(customer_stats.c.store_id))).all()
    stale = [store_id for store_id, oldest in rows if oldest is None or now - oldest >= every]
    for store_id in stale:
        async with (reader or engine).connect() as conn:
            scores = await rfm_scores(conn, store_id, now)
        async with engine.begin() as conn:
            await write_rfm(conn, store_id, scores)
    return stale

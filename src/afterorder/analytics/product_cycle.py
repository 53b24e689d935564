"""Product cycles: how many days customers take to buy the same product again.

Per product (``order_lines.product_id``, or the line's ``sku`` when it has no product id), the median
of the days between consecutive purchases of it by the same customer. Purchases are the orders that
count for retention (a customer, not cancelled), by calendar day in the store's time zone: several
orders of the product on one day are one purchase, so every interval is at least one day.

With fewer than ``min_sample`` intervals the history says too little, and the cycle falls back to
``fallback_days(product)`` — the catalog's ``replenish_days``, injected by the caller — or is None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, extract, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.analytics.retention import ReportError
from afterorder.db.schema import order_lines, orders
from afterorder.db.stores import StoreRow

DEFAULT_MIN_SAMPLE = 5
FallbackDays = Callable[[str], "int | None"]
Source = Literal["history", "catalog"]


@dataclass(frozen=True)
class ProductCycle:
    product: str
    title: str | None
    buyers: int
    sample: int  # repeat-purchase intervals seen
    days: float | None  # the cycle in days: the median interval, or the catalog's replenish_days
    source: Source | None

    def as_json(self) -> dict[str, Any]:
        return {"product": self.product, "title": self.title, "buyers": self.buyers, "sample": self.sample,
                "days": self.days, "source": self.source}


def cycle(product: str, title: str | None, buyers: int, gaps: Mapping[int, int], *, min_sample: int,
          fallback_days: FallbackDays | None) -> ProductCycle:
    """The median gap ({days: how many intervals}) when there are at least ``min_sample`` intervals,
    else the fallback."""
    sample = sum(gaps.values())
    if sample >= min_sample:
        return ProductCycle(product, title, buyers, sample, median_of(gaps), "history")
    fallback = fallback_days(product) if fallback_days is not None else None
    if fallback is not None:
        return ProductCycle(product, title, buyers, sample, float(fallback), "catalog")
    return ProductCycle(product, title, buyers, sample, None, None)


def check_min_sample(min_sample: int, name: str = "min_sample") -> None:
    if not 1 <= min_sample <= 100_000:
        raise ReportError(f"{name}: {min_sample} is out of range; give 1 to 100000 intervals")


def median_of(histogram: Mapping[int, int]) -> float:
    """The median of values given as {value: how many times}."""
    total = sum(histogram.values())
    if total == 0:
        raise ValueError("the median of nothing")
    lower_index, upper_index = (total - 1) // 2, total // 2  # the two middle positions (equal when odd)
    seen, lower = 0, None
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen > lower_index:
            lower = value
        if seen > upper_index:
            assert lower is not None
            return (lower + value) / 2
    raise AssertionError("unreachable: the counts add up to total")


def utc_offsets(zone: ZoneInfo, first: datetime, last: datetime) -> tuple[int, list[tuple[datetime, int]]]:
    """The zone's UTC offset in seconds at ``first``, and each change up to ``last`` as (instant, new offset)."""

    def offset(epoch: int) -> int:
        shift = datetime.fromtimestamp(epoch, UTC).astimezone(zone).utcoffset()
        return int(shift.total_seconds()) if shift is not None else 0

    start, end = int(first.timestamp()), int(last.timestamp()) + 1
    current = offset(start)
    changes: list[tuple[datetime, int]] = []
    at = start
    while at < end:
        following = min(at + 86400, end)
        if offset(following) != current:
            low, high = at, following  # the offset changes in (low, high]: find the first second of the new one
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == current else (low, middle)
            current = offset(high)
            changes.append((datetime.fromtimestamp(high, UTC), current))
            at = high
        else:
            at = following
    return offset(start), changes


def _local_day(dialect: str, placed_at: Any, zone: ZoneInfo, first: datetime, last: datetime) -> Any:
    """The calendar day in ``zone`` of each ``placed_at`` as a day number, computed in the database.

    Whole seconds since the epoch plus the zone's offset at that instant (a CASE over the offset changes
    between ``first`` and ``last``), divided by 86,400: exact, also across daylight-saving changes.
    """
    initial, changes = utc_offsets(zone, first, last)
    # Offsets are whole seconds computed here, never user input: written into the SQL as numbers.
    offsets = [initial, *(o for _, o in changes)]
    shift: Any = (case(*((placed_at < at, literal_column(str(offsets[i]))) for i, (at, _) in enumerate(changes)),
                       else_=literal_column(str(offsets[-1])))
                  if changes else literal_column(str(initial)))
    if dialect == "sqlite":
        return (cast(func.strftime("%s", placed_at), Integer) + shift) // 86400  # whole days since 1970
    return cast(func.floor((extract("epoch", placed_at) + shift) / 86400), Integer)


async def product_cycles(conn: AsyncConnection, store: StoreRow, *, min_sample: int = DEFAULT_MIN_SAMPLE,
                         fallback_days: FallbackDays | None = None,
                         products: Sequence[str] | None = None) -> list[ProductCycle]:
    """Every product the store's customers bought (or only ``products``), most buyers first.

    ``fallback_days(product)`` gives the catalog's ``replenish_days`` for a product key (its product id,
    or its sku when lines carry no product id); None leaves products with too few intervals without a cycle.

    The database does the work: one purchase per (product, customer, local day), the gap to the same
    customer's previous purchase of the product (a window function), and a histogram of gaps per product;
    only that histogram comes back.
    """
    check_min_sample(min_sample)
    zone = ZoneInfo(store.timezone)
    key = func.coalesce(func.nullif(order_lines.c.product_id, ""), func.nullif(order_lines.c.sku, ""))
    counted = and_(order_lines.c.store_id == store.id, orders.c.store_id == store.id,
                   orders.c.customer_id.is_not(None), orders.c.cancelled_at.is_(None))
    joined = order_lines.join(orders, orders.c.id == order_lines.c.order_id)
    wanted = [key.is_not(None)] if products is None else [key.in_(list(products))]

    summary = (await conn.execute(
        select(key.label("product"), func.max(order_lines.c.title), func.count(orders.c.customer_id.distinct()))
        .select_from(joined).where(counted, *wanted).group_by(key)
    )).all()
    span = (await conn.execute(select(func.min(orders.c.placed_at), func.max(orders.c.placed_at)).where(
        orders.c.store_id == store.id))).one()
    histograms: dict[str, dict[int, int]] = {}
    if summary and span[0] is not None:
        day = _local_day(conn.dialect.name, orders.c.placed_at, zone, span[0], span[1])
        purchases = (select(key.label("product"), orders.c.customer_id, day.label("day"))
                     .select_from(joined).where(counted, *wanted).distinct().subquery())
        gaps = select(
            purchases.c.product,
            (purchases.c.day - func.lag(purchases.c.day).over(
                partition_by=(purchases.c.product, purchases.c.customer_id), order_by=purchases.c.day)).label("gap"),
        ).subquery()
        rows = await conn.execute(select(gaps.c.product, gaps.c.gap, func.count())
                                  .where(gaps.c.gap.is_not(None)).group_by(gaps.c.product, gaps.c.gap))
        for product, gap, count in rows:
            histograms.setdefault(product, {})[int(gap)] = int(count)

    found = [cycle(product, title, int(buyers), histograms.get(product, {}), min_sample=min_sample,
                   fallback_days=fallback_days) for product, title, buyers in summary]
    return sorted(found, key=lambda c: (-c.buyers, c.product))

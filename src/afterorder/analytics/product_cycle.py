"""Product cycles: how many days customers take to buy the same product again.

Per product (``order_lines.product_id``, or the line's ``sku`` when it has no product id), the median
of the days between consecutive purchases of it by the same customer. Purchases are the orders that
count for retention (a customer, not cancelled), by calendar day in the store's time zone: several
orders of the product on one day are one purchase, so every interval is at least one day.

With fewer than ``min_sample`` intervals the history says too little, and the cycle falls back to
``fallback_days(product)`` — the catalog's ``replenish_days``, injected by the caller — or is None.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
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


def intervals(days: Iterable[date]) -> list[int]:
    """Days between consecutive purchase days of one customer (same-day purchases count once)."""
    ordered = sorted(set(days))
    return [(b - a).days for a, b in pairwise(ordered)]


def cycle(product: str, title: str | None, buyers: int, gaps: Sequence[int], *, min_sample: int,
          fallback_days: FallbackDays | None) -> ProductCycle:
    """The median of ``gaps`` when there are at least ``min_sample`` of them, else the fallback."""
    if len(gaps) >= min_sample:
        return ProductCycle(product, title, buyers, len(gaps), float(statistics.median(gaps)), "history")
    fallback = fallback_days(product) if fallback_days is not None else None
    if fallback is not None:
        return ProductCycle(product, title, buyers, len(gaps), float(fallback), "catalog")
    return ProductCycle(product, title, buyers, len(gaps), None, None)


def check_min_sample(min_sample: int, name: str = "min_sample") -> None:
    if not 1 <= min_sample <= 100_000:
        raise ReportError(f"{name}: {min_sample} is out of range; give 1 to 100000 intervals")


async def product_cycles(conn: AsyncConnection, store: StoreRow, *, min_sample: int = DEFAULT_MIN_SAMPLE,
                         fallback_days: FallbackDays | None = None,
                         products: Sequence[str] | None = None) -> list[ProductCycle]:
    """Every product the store's customers bought (or only ``products``), most buyers first.

    ``fallback_days(product)`` gives the catalog's ``replenish_days`` for a product key (its product id,
    or its sku when lines carry no product id); None leaves products with too few intervals without a cycle.
    """
    check_min_sample(min_sample)
    zone = ZoneInfo(store.timezone)
    key = func.coalesce(func.nullif(order_lines.c.product_id, ""), func.nullif(order_lines.c.sku, ""))
    counted = and_(order_lines.c.store_id == store.id, orders.c.store_id == store.id,
                   orders.c.customer_id.is_not(None), orders.c.cancelled_at.is_(None))
    joined = order_lines.join(orders, orders.c.id == order_lines.c.order_id)
    wanted = [key.is_not(None)] if products is None else [key.in_(list(products))]

    bought = (select(key.label("product"), orders.c.customer_id, orders.c.id.label("order_id"),
                     order_lines.c.title, orders.c.placed_at)
              .select_from(joined).where(counted, *wanted).subquery())
    summary = (await conn.execute(
        select(bought.c.product, func.max(bought.c.title), func.count(bought.c.customer_id.distinct()))
        .group_by(bought.c.product)
    )).all()
    # Only (product, customer) pairs with two orders or more have intervals: fetch just their purchase times.
    repeats = (select(bought.c.product, bought.c.customer_id)
               .group_by(bought.c.product, bought.c.customer_id)
               .having(func.count(bought.c.order_id.distinct()) >= 2).subquery())
    times = await conn.execute(
        select(bought.c.product, bought.c.customer_id, bought.c.placed_at)
        .select_from(bought.join(repeats, and_(bought.c.product == repeats.c.product,
                                               bought.c.customer_id == repeats.c.customer_id)))
        .order_by(bought.c.product, bought.c.customer_id)
    )
    purchase_days: dict[tuple[str, int], list[date]] = {}
    for product, customer_id, placed_at in times:
        purchase_days.setdefault((product, customer_id), []).append(placed_at.astimezone(zone).date())
    gaps: dict[str, list[int]] = {}
    for (product, _customer), days in purchase_days.items():
        gaps.setdefault(product, []).extend(intervals(days))

    found = [cycle(product, title, int(buyers), gaps.get(product, []), min_sample=min_sample,
                   fallback_days=fallback_days) for product, title, buyers in summary]
    return sorted(found, key=lambda c: (-c.buyers, c.product))

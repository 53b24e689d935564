"""Product recommendations from the store's own orders and catalog.

For a customer (and, when the message is about one, an order) the list is, in this order:

1. **bought together**: products that appear in the same orders as what was bought, ranked by lift
   (how much more often they are bought together than chance would say: ``n(a,b)·N / (n(a)·n(b))``,
   kept when above 1);
2. **upsell**: the same category (collection) at a higher price tier (at least 20 % above what was paid);
3. **the rest of the collection**: other products of the same category, the most ordered first;
4. **popular**: the store's most ordered products, as the fallback.

Never a product the customer has bought, one the catalog says is out of stock, or one without an image
(a recommendation is a picture and a link).  Each item says why it is there (``reason``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import order_lines, orders, products

UPSELL_TIER = Decimal("1.2")


@dataclass(frozen=True)
class Product:
    product_id: str
    title: str
    category: str | None
    price: Decimal | None
    currency: str
    image_url: str
    url: str | None


@dataclass(frozen=True)
class Recommendations:
    items: list[dict[str, Any]]  # the ranked picks, each with a ``reason``
    collection: list[dict[str, Any]]  # the rest of the bought items' collection (not in ``items``)


def _as_template(product: Product, reason: str) -> dict[str, Any]:
    return {"product_id": product.product_id, "title": product.title, "category": product.category,
            "price": product.price, "currency": product.currency, "image_url": product.image_url,
            "url": product.url, "reason": reason}


async def _catalog(conn: AsyncConnection, store_id: int) -> dict[str, Product]:
    """Products that may be shown: one entry per product (its cheapest variant's price), in stock, with an image."""
    found: dict[str, Product] = {}
    for row in await conn.execute(select(products).where(products.c.store_id == store_id)
                                  .order_by(products.c.product_id, products.c.variant_id)):
        if row.in_stock is False:
            continue  # a sold-out variant; the product shows while another variant is in stock
        if not row.image_url or not row.title:
            continue
        known = found.get(row.product_id)
        price = Decimal(row.price) if row.price is not None else None
        if known is None or (price is not None and (known.price is None or price < known.price)):
            found[row.product_id] = Product(row.product_id, row.title, row.category, price, row.currency,
                                            row.image_url, row.url)
    return found


async def recommend(conn: AsyncConnection, store_id: int, customer_id: int | None, order_id: int | None,
                    limit: int) -> Recommendations:
    catalog = await _catalog(conn, store_id)
    bought: set[str] = set()
    seeds: set[str] = set()
    paid: dict[str, Decimal] = {}
    if customer_id is not None:
        for row in await conn.execute(
                select(order_lines.c.product_id, order_lines.c.order_id, order_lines.c.price)
                .join(orders, (orders.c.id == order_lines.c.order_id) & (orders.c.store_id == order_lines.c.store_id))
                .where(order_lines.c.store_id == store_id, orders.c.customer_id == customer_id,
                       order_lines.c.product_id.is_not(None))):
            bought.add(row.product_id)
            if order_id is None or row.order_id == order_id:
                seeds.add(row.product_id)
                paid[row.product_id] = max(paid.get(row.product_id, Decimal(0)), Decimal(row.price))
    if order_id is not None:
        for row in await conn.execute(select(order_lines.c.product_id, order_lines.c.price).where(
                order_lines.c.store_id == store_id, order_lines.c.order_id == order_id,
                order_lines.c.product_id.is_not(None))):
            bought.add(row.product_id)
            seeds.add(row.product_id)
            paid[row.product_id] = max(paid.get(row.product_id, Decimal(0)), Decimal(row.price))
    counts = Counter({row.product_id: row.n for row in await conn.execute(
        select(order_lines.c.product_id, func.count(func.distinct(order_lines.c.order_id)).label("n"))
        .where(order_lines.c.store_id == store_id, order_lines.c.product_id.is_not(None))
        .group_by(order_lines.c.product_id))})
    total_orders = (await conn.execute(select(func.count()).select_from(orders)
                                       .where(orders.c.store_id == store_id))).scalar_one()
    together = await _lift(conn, store_id, seeds, counts, total_orders) if seeds else {}

    eligible = {pid: p for pid, p in catalog.items() if pid not in bought}
    picked: dict[str, dict[str, Any]] = {}

    def take(candidates: Iterable[str], reason: str) -> None:
        for pid in candidates:
            if len(picked) >= limit:
                return
            if pid in eligible and pid not in picked:
                picked[pid] = _as_template(eligible[pid], reason)

    take(sorted((p for p, lift in together.items() if lift > 1), key=lambda p: (-together[p], -counts[p], p)),
         "bought_together")
    seed_categories: dict[str, Decimal] = {}
    for pid in seeds:
        product = catalog.get(pid)
        category = product.category if product else None
        if category:
            seed_categories[category] = max(seed_categories.get(category, Decimal(0)), paid.get(pid, Decimal(0)))
    upsell = [pid for pid, p in eligible.items() if p.category in seed_categories and p.price is not None
              and p.price >= seed_categories[p.category] * UPSELL_TIER]
    take(sorted(upsell, key=lambda p: (eligible[p].price, p)), "upsell")
    same = sorted((pid for pid, p in eligible.items() if p.category in seed_categories),
                  key=lambda p: (-counts[p], p))
    take(same, "collection")
    take(sorted(eligible, key=lambda p: (-counts[p], p)), "popular")
    collection = [_as_template(eligible[p], "collection") for p in same if p not in picked]
    return Recommendations(list(picked.values()), collection)


async def _lift(conn: AsyncConnection, store_id: int, seeds: set[str], counts: Counter[str],
                total_orders: int) -> dict[str, float]:
    """The best lift of each product with any of ``seeds``, over the orders that hold a seed."""
    with_seed = select(order_lines.c.order_id).where(order_lines.c.store_id == store_id,
                                                     order_lines.c.product_id.in_(sorted(seeds)))
    baskets: dict[int, set[str]] = defaultdict(set)
    for row in await conn.execute(select(order_lines.c.order_id, order_lines.c.product_id).where(
            order_lines.c.store_id == store_id, order_lines.c.order_id.in_(with_seed),
            order_lines.c.product_id.is_not(None))):
        baskets[row.order_id].add(row.product_id)
    pairs: Counter[tuple[str, str]] = Counter()
    for basket in baskets.values():
        for seed in basket & seeds:
            for other in basket - {seed}:
                pairs[(seed, other)] += 1
    best: dict[str, float] = {}
    for (seed, other), together in pairs.items():
        if other in seeds or not counts[seed] or not counts[other]:
            continue
        lift = together * total_orders / (counts[seed] * counts[other])
        best[other] = max(best.get(other, 0.0), lift)
    return best

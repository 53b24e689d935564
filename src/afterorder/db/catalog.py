"""The catalog: products and their variants as the store describes them.

Rows come from ``product.updated`` / ``product.restocked`` events (the platforms' product webhooks,
the events API, ``afterorder import products``), projected in the events' own transaction with one
executemany per group.  Fields an event leaves out keep their stored values; an event older than
what is stored changes nothing (webhooks arrive out of order); a restock always means in stock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Executable, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import products
from afterorder.db.statements import execute_many, typed_statement
from afterorder.domain import Event, EventType, ProductIn

PRODUCT_KEPT = ("sku", "title", "variant", "category", "price", "image_url", "url", "in_stock", "inventory_quantity",
                "replenish_days")
PRODUCT_COLUMNS = ("store_id", "product_id", "variant_id", *PRODUCT_KEPT, "tags", "currency", "updated_at")


@dataclass(frozen=True)
class ProductRow:
    product_id: str
    variant_id: str  # '' when the product has no variants
    sku: str | None
    title: str | None
    variant: str | None
    category: str | None
    tags: list[str]
    price: Decimal | None
    currency: str
    image_url: str | None
    url: str | None
    in_stock: bool | None
    inventory_quantity: int | None
    replenish_days: int | None
    updated_at: datetime


@cache
def upsert_product() -> Executable:
    """Insert a product (variant) or merge an event into it; never let an older event win."""
    keep = ", ".join(f"{c} = COALESCE(excluded.{c}, products.{c})" for c in PRODUCT_KEPT)
    sql = (
        f"INSERT INTO products ({', '.join(PRODUCT_COLUMNS)}) VALUES ({', '.join(':' + c for c in PRODUCT_COLUMNS)}) "
        f"ON CONFLICT (store_id, product_id, variant_id) DO UPDATE SET {keep}, "
        "tags = CASE WHEN :tags_given THEN excluded.tags ELSE products.tags END, "
        "currency = CASE WHEN :currency_given THEN excluded.currency ELSE products.currency END, "
        "updated_at = excluded.updated_at "
        "WHERE excluded.updated_at >= products.updated_at"
    )
    return typed_statement(sql, products, PRODUCT_COLUMNS, (), {"tags_given": Boolean(), "currency_given": Boolean()})


def product_params(store_id: int, currency: str, product: ProductIn, at: datetime, *,
                   restocked: bool = False) -> dict[str, Any]:
    given = product.model_fields_set
    params: dict[str, Any] = {c: getattr(product, c) for c in PRODUCT_KEPT}
    if restocked:
        params["in_stock"] = True
    params.update(store_id=store_id, product_id=product.id, variant_id=product.variant_id or "",
                  tags=list(product.tags), currency=(product.currency or currency).upper(), updated_at=at,
                  tags_given="tags" in given, currency_given=product.currency is not None)
    return params


async def upsert_products(conn: AsyncConnection, params: Sequence[dict[str, Any]]) -> None:
    """Write many products at once (rows from ``product_params``), in the given order."""
    if params:
        await execute_many(conn, upsert_product(), params)


async def project_products(conn: AsyncConnection, store_id: int, currency: str, events: Sequence[Event]) -> int:
    """Apply every product event of a group to the catalog; returns how many it applied."""
    params = [product_params(store_id, currency, e.product, e.occurred_at,
                             restocked=e.type is EventType.PRODUCT_RESTOCKED)
              for e in events if e.product is not None and e.type.is_product_event]
    await upsert_products(conn, params)
    return len(params)


LINE_DETAILS = ("image_url", "url", "category")
CHUNK = 500


async def fill_from_catalog(conn: AsyncConnection, store_id: int, lines: list[dict[str, Any]]) -> None:
    """Order lines that name a product but lack its picture, page or category take them from the
    catalog, when it has them (one query per group, only when some line needs it)."""
    wanted = sorted({line["product_id"] for line in lines
                     if line.get("product_id") and any(line.get(c) is None for c in LINE_DETAILS)})
    if not wanted:
        return
    details: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = await conn.execute(
            select(products.c.product_id, products.c.variant_id, *(products.c[c] for c in LINE_DETAILS))
            .where(products.c.store_id == store_id, products.c.product_id.in_(wanted[start:start + CHUNK]))
            .order_by(products.c.product_id, products.c.variant_id))
        for r in rows:
            known = details.setdefault(r.product_id, {})  # the product's own row ('' variant) comes first
            for c in LINE_DETAILS:
                if known.get(c) is None:
                    known[c] = getattr(r, c)
    for line in lines:
        found = details.get(line.get("product_id") or "")
        if found:
            for c in LINE_DETAILS:
                if line.get(c) is None:
                    line[c] = found.get(c)


def _row(r: Any) -> ProductRow:
    return ProductRow(product_id=r.product_id, variant_id=r.variant_id, sku=r.sku, title=r.title, variant=r.variant,
                      category=r.category, tags=list(r.tags or []), price=r.price, currency=r.currency,
                      image_url=r.image_url, url=r.url, in_stock=r.in_stock, inventory_quantity=r.inventory_quantity,
                      replenish_days=r.replenish_days, updated_at=r.updated_at)


async def get_product(conn: AsyncConnection, store_id: int, product_id: str, variant_id: str = "") -> ProductRow | None:
    row = (await conn.execute(select(products).where(
        products.c.store_id == store_id, products.c.product_id == product_id,
        products.c.variant_id == variant_id))).first()
    return _row(row) if row is not None else None


async def list_products(conn: AsyncConnection, store_id: int, *, product_id: str | None = None,
                        in_stock: bool | None = None, limit: int = 100, offset: int = 0) -> list[ProductRow]:
    """The store's catalog ordered by product then variant; optionally one product's variants, or
    only what is (not) in stock."""
    query = select(products).where(products.c.store_id == store_id)
    if product_id is not None:
        query = query.where(products.c.product_id == product_id)
    if in_stock is not None:
        query = query.where(products.c.in_stock.is_(in_stock))
    query = query.order_by(products.c.product_id, products.c.variant_id).limit(limit).offset(offset)
    return [_row(r) for r in await conn.execute(query)]


async def replenish_days(conn: AsyncConnection, store_id: int) -> Callable[[str], int | None]:
    """The catalog's ``replenish_days`` by product id and by SKU (the shortest of a product's variants):
    the fallback for product cycles when the store's own history is too thin."""
    found: dict[str, int] = {}
    rows = await conn.execute(select(products.c.product_id, products.c.sku, products.c.replenish_days).where(
        products.c.store_id == store_id, products.c.replenish_days.is_not(None)))
    for product_id, sku, days in rows:
        for key in (product_id, sku):
            if key and (key not in found or days < found[key]):
                found[key] = int(days)
    return found.get

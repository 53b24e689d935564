"""Loading what the engine may know about a run's subject: one place, used by triggers and
the scheduler, so a condition sees the same facts whether it starts a run or branches one."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import customers, events, order_lines, orders
from afterorder.db.stores import StoreRow
from afterorder.domain import EventType
from afterorder.flows.engine import Facts


def _plain(row: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(row).items() if k not in ("store_id",)}


async def load_customer(conn: AsyncConnection, store_id: int, customer_id: int | None) -> dict[str, Any] | None:
    if customer_id is None:
        return None
    row = (await conn.execute(
        select(customers).where(customers.c.store_id == store_id, customers.c.id == customer_id)
    )).mappings().first()
    return _plain(row) if row else None


async def load_order(conn: AsyncConnection, store_id: int, order_id: int | None) -> dict[str, Any] | None:
    if order_id is None:
        return None
    row = (await conn.execute(
        select(orders).where(orders.c.store_id == store_id, orders.c.id == order_id)
    )).mappings().first()
    if row is None:
        return None
    order = _plain(row)
    lines = await conn.execute(
        select(order_lines).where(order_lines.c.store_id == store_id, order_lines.c.order_id == order_id)
        .order_by(order_lines.c.position)
    )
    order["lines"] = [_plain(line) for line in lines.mappings()]
    order["categories"] = sorted({line["category"] for line in order["lines"] if line["category"]})
    return order


async def load_occurrences(
    conn: AsyncConnection, store_id: int, *, order_id: int | None, customer_id: int | None
) -> dict[EventType, list[datetime]]:
    query = select(events.c.type, events.c.occurred_at).where(events.c.store_id == store_id)
    if order_id is not None:
        query = query.where(events.c.order_id == order_id)
    elif customer_id is not None:
        query = query.where(events.c.customer_id == customer_id)
    else:
        return {}
    found: dict[EventType, list[datetime]] = defaultdict(list)
    for row in await conn.execute(query):
        try:
            found[EventType(row.type)].append(row.occurred_at)
        except ValueError:
            continue
    return dict(found)


def build_facts(
    store: StoreRow, customer: dict[str, Any] | None, order: dict[str, Any] | None,
    event: dict[str, Any] | None, occurrences: dict[EventType, list[datetime]],
) -> Facts:
    values: dict[str, Any] = {
        "store": {"slug": store.slug, "country": store.country, "currency": store.currency},
        "customer": customer or {},
        "order": order or {},
        "event": event or {},
        "shipment": (order or {}).get("shipment") or {},
        "properties": (event or {}).get("properties") or {},
    }
    timezone = (customer or {}).get("timezone") or store.timezone
    return Facts(values=values, occurrences=occurrences, timezone=timezone)

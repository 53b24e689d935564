"""The event log: append once per (store, source id), keeping the raw payload beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.dialect import insert_ignore
from afterorder.db.projections import project_order, upsert_customer
from afterorder.db.schema import events, orders
from afterorder.domain import Event


@dataclass(frozen=True)
class Recorded:
    event_id: int
    duplicate: bool
    customer_id: int | None
    order_id: int | None


async def find_event(conn: AsyncConnection, store_id: int, source_id: str) -> Recorded | None:
    row = (await conn.execute(
        select(events.c.id, events.c.customer_id, events.c.order_id)
        .where(events.c.store_id == store_id, events.c.source_id == source_id)
    )).first()
    if row is None:
        return None
    return Recorded(int(row.id), True, row.customer_id, row.order_id)


async def record_event(
    conn: AsyncConnection, store_id: int, currency: str, event: Event, *, source: str,
    raw: Any, now: datetime,
) -> Recorded:
    """Append the event and update the projections, in the caller's transaction.

    A repeat of an id already stored changes nothing and says so (``duplicate=True``).
    """
    existing = await find_event(conn, store_id, event.id)
    if existing is not None:
        return existing
    customer_id = await upsert_customer(conn, store_id, event.customer, now) if event.customer else None
    order_id = await project_order(conn, store_id, currency, event, customer_id, now)
    if order_id is not None and customer_id is None:
        row = (await conn.execute(select(orders.c.customer_id).where(orders.c.id == order_id))).one()
        customer_id = row.customer_id
    result = await conn.execute(
        insert_ignore(conn, events).values(
            store_id=store_id, source=source, source_id=event.id, type=event.type.value,
            occurred_at=event.occurred_at, received_at=now, customer_id=customer_id, order_id=order_id,
            payload=event.model_dump(mode="json"), raw=raw,
        ).returning(events.c.id)
    )
    inserted = result.first()
    if inserted is None:
        raise DuplicateRace(event.id)
    return Recorded(int(inserted.id), False, customer_id, order_id)


class DuplicateRace(Exception):
    """Another transaction stored the same event id first; the caller rolls back and reports a duplicate."""

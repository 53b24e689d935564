"""The event log: append once per (store, source id), keeping the raw payload beside it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.projections import project_customer, project_order
from afterorder.db.schema import events
from afterorder.db.statements import insert_ignore
from afterorder.domain import Event

EVENT_COLUMNS = ("store_id", "source", "source_id", "type", "occurred_at", "received_at", "customer_id", "order_id",
                 "payload", "raw")


@dataclass(frozen=True)
class Recorded:
    event_id: int
    customer_id: int | None
    order_id: int | None


class DuplicateRace(Exception):
    """Another transaction stored the same event id first; the caller retries and reports a duplicate."""


async def stored_ids(conn: AsyncConnection, store_id: int, source_ids: Iterable[str]) -> set[str]:
    """Which of these ids the store has sent before."""
    wanted = list(set(source_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        rows = await conn.execute(select(events.c.source_id).where(
            events.c.store_id == store_id, events.c.source_id.in_(wanted[start:start + 500])))
        found.update(r.source_id for r in rows)
    return found


async def record_event(
    conn: AsyncConnection, store_id: int, currency: str, event: Event, *, source: str, raw: Any, now: datetime,
) -> Recorded:
    """Append a new event and update the projections, in the caller's transaction."""
    customer_id = await project_customer(conn, store_id, event.customer, now) if event.customer else None
    order = await project_order(conn, store_id, currency, event, customer_id, now)
    if order is not None and customer_id is None:
        customer_id = order.customer_id
    inserted = (await conn.execute(insert_ignore(events, EVENT_COLUMNS, ("id",)), {
        "store_id": store_id, "source": source, "source_id": event.id, "type": event.type.value,
        "occurred_at": event.occurred_at, "received_at": now, "customer_id": customer_id,
        "order_id": order.id if order else None, "payload": event.model_dump(mode="json"), "raw": raw,
    })).first()
    if inserted is None:
        raise DuplicateRace(event.id)
    return Recorded(int(inserted.id), customer_id, order.id if order else None)

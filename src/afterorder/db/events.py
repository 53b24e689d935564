"""The event log: append once per (store, source id), keeping the raw payload beside it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.key_lists import in_keys
from afterorder.db.schema import events
from afterorder.db.statements import execute_many, insert_ignore
from afterorder.domain import Event

EVENT_COLUMNS = ("store_id", "source", "source_id", "type", "occurred_at", "received_at", "customer_id", "order_id",
                 "payload", "raw")
CHUNK = 500


@dataclass(frozen=True)
class StoredEvent:
    """An event as the log now holds it, for what follows in the same transaction (the intake's
    projectors): its row id, its source, the customer and order it belongs to, and its payload as
    stored (a live event's; None for history)."""

    event_id: int
    event: Event
    source: str
    customer_id: int | None
    order_id: int | None
    payload: dict[str, Any] | None = None


class DuplicateRace(Exception):
    """Another transaction stored the same event id first; the caller retries and reports a duplicate."""


@dataclass(frozen=True)
class NewEvent:
    source_id: str
    values: dict[str, Any]  # one row of EVENT_COLUMNS


# Built once: every batch of events asks both.
_STORED = select(events.c.source_id).where(
    events.c.store_id == bindparam("store"), in_keys(events.c.source_id, "ids"))
_APPENDED = select(events.c.source_id, events.c.id, events.c.received_at).where(
    events.c.store_id == bindparam("store"), in_keys(events.c.source_id, "ids"))


async def stored_ids(conn: AsyncConnection, store_id: int, source_ids: Iterable[str]) -> set[str]:
    """Which of these ids the store has sent before."""
    wanted = sorted(set(source_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        rows = await conn.execute(_STORED, {"store": store_id, "ids": wanted[start:start + CHUNK]})
        found.update(r.source_id for r in rows)
    return found


async def append_events(conn: AsyncConnection, store_id: int, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Append new events (the caller has filtered duplicates); returns event id by source id.

    Raises ``DuplicateRace`` when another transaction stored one of them meanwhile."""
    if not rows:
        return {}
    await execute_many(conn, insert_ignore(events, EVENT_COLUMNS), rows)
    return await appended_ids(conn, store_id, rows)


async def appended_ids(conn: AsyncConnection, store_id: int, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The ids of events just appended (``rows``); raises ``DuplicateRace`` when another transaction
    stored one of them first (its ``received_at`` is not ours)."""
    wanted = [r["source_id"] for r in rows]
    found: dict[str, int] = {}
    received = rows[0]["received_at"]
    for start in range(0, len(wanted), CHUNK):
        result = await conn.execute(_APPENDED, {"store": store_id, "ids": wanted[start:start + CHUNK]})
        for r in result:
            if r.received_at != received:
                raise DuplicateRace(r.source_id)
            found[r.source_id] = int(r.id)
    if len(found) != len(wanted):
        raise DuplicateRace(next(w for w in wanted if w not in found))
    return found


def event_row(store_id: int, source: str, source_id: str, type_: str, occurred_at: datetime, now: datetime,
              customer_id: int | None, order_id: int | None, payload: Any, raw: Any) -> dict[str, Any]:
    return {"store_id": store_id, "source": source, "source_id": source_id, "type": type_,
            "occurred_at": occurred_at, "received_at": now, "customer_id": customer_id, "order_id": order_id,
            "payload": payload, "raw": raw}

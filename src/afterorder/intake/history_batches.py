"""History batches (``Intake.ingest(..., historical=True)``: what ``afterorder import`` sends),
stored and projected set-based in the batch's transaction.

History gets the live path's storage and projections (customers, orders, lines, catalog, customer
statistics, consents, coupons used) with the same results, but none of what only live events do:
no flow runs, no engagement, suppression or attribution rows.  Its statements are the bulk ones of
db/history_projections.py, and each event's payload goes to JSON text straight from its model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.catalog import project_products
from afterorder.db.events import event_row
from afterorder.db.history_projections import append_events, project_customers, project_orders, stored_ids
from afterorder.db.projections import event_subject_ids
from afterorder.db.stores import StoreRow
from afterorder.domain import Event
from afterorder.intake.side_records import Happened, record_side_effects
from afterorder.tracking.projection import message_subjects

KeepStats = Callable[[AsyncConnection, StoreRow, list[str], list[Happened], datetime], Awaitable[None]]


@dataclass(frozen=True)
class HistoryRequest:
    events: Sequence[Event]
    raw: Sequence[Any] | None
    source: str
    stats: bool = True  # False: the caller refreshes customer statistics later (refresh_stale_stats)


async def store_history(conn: AsyncConnection, store: StoreRow, requests: Sequence[HistoryRequest], now: datetime,
                        keep_stats: KeepStats) -> list[list[bool]]:
    """Store the requests' events (deduped on the store's ids); per request and event, whether it was
    stored (else it was there already).  ``keep_stats`` is the intake's customer statistics upkeep."""
    seen = await stored_ids(conn, store.id, (e.id for r in requests for e in r.events))
    fresh: list[tuple[Event, Any, str]] = []
    counted: list[bool] = []  # per fresh event: whether its customer's statistics are kept now
    stored: list[list[bool]] = []
    for request in requests:
        flags = []
        for index, event in enumerate(request.events):
            is_new = event.id not in seen
            flags.append(is_new)
            if is_new:
                seen.add(event.id)
                fresh.append((event, request.raw[index] if request.raw is not None else None, request.source))
                counted.append(request.stats)
        stored.append(flags)
    new_events = [e for e, _, _ in fresh]
    customer_ids = await project_customers(conn, store.id, new_events, now)
    order_ids = await project_orders(conn, store.id, store.currency, new_events, customer_ids, now)
    await project_products(conn, store.id, store.currency, new_events)
    subjects = await message_subjects(conn, store.id, [(e, source) for e, _, source in fresh])
    rows, happened = [], []
    for event, raw, source in fresh:
        customer_id, order_id = event_subject_ids(event, customer_ids, order_ids, subjects)
        rows.append(event_row(store.id, source, event.id, event.type.value, event.occurred_at, now,
                              customer_id, order_id, event.model_dump_json(), raw))
        happened.append((event, None, customer_id, order_id))
    event_ids = await append_events(conn, store.id, rows)
    sources = [source for _, _, source in fresh]
    if all(counted):
        await keep_stats(conn, store, sources, happened, now)
    elif any(counted):
        await keep_stats(conn, store, [s for s, c in zip(sources, counted, strict=True) if c],
                         [h for h, c in zip(happened, counted, strict=True) if c], now)
    await record_side_effects(conn, store.id, sources, happened, event_ids, now)
    return stored

"""History batches (``Intake.ingest(..., historical=True)`` and ``Intake.ingest_history``: what
``afterorder import`` sends), stored and projected set-based in the batch's transaction.

History gets the live path's storage and projections (customers, orders, lines, catalog, customer
statistics, consents, coupons used) with the same results, but none of what only live events do:
no flow runs, no engagement, suppression or attribution rows.  Its statements are the bulk ones of
db/history_projections.py, and its events come prepared (db/history_rows.py): payload and raw record
already JSON text, projection values already taken from the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.catalog import project_products
from afterorder.db.customer_stats import refresh_stats
from afterorder.db.events import StoredEvent, event_row
from afterorder.db.history_projections import append_events, project_customers, project_orders, stored_ids
from afterorder.db.history_rows import Prepared, subject_ids
from afterorder.db.stores import StoreRow
from afterorder.intake.side_records import record_side_effects
from afterorder.tracking.projection import message_subjects


@dataclass(frozen=True)
class HistoryRequest:
    events: Sequence[Prepared]
    source: str
    stats_later: bool = False  # the caller refreshes customer statistics later (refresh_stale_stats)


async def store_history(conn: AsyncConnection, store: StoreRow, requests: Sequence[HistoryRequest], now: datetime
                        ) -> list[list[bool]]:
    """Store the requests' events (deduped on the store's ids); per request and event, whether it was
    stored (else it was there already)."""
    seen = await stored_ids(conn, store.id, (e.id for r in requests for e in r.events))
    fresh: list[tuple[Prepared, str, bool]] = []  # the event, its source, whether its statistics wait
    stored: list[list[bool]] = []
    for request in requests:
        flags = []
        for item in request.events:
            is_new = item.id not in seen
            flags.append(is_new)
            if is_new:
                seen.add(item.id)
                fresh.append((item, request.source, request.stats_later))
        stored.append(flags)
    new = [item for item, _, _ in fresh]
    customer_ids = await project_customers(conn, store.id, [i.customer for i in new if i.customer is not None], now)
    order_ids = await project_orders(conn, store.id, new, customer_ids, now)
    models = [(item.event, source) for item, source, _ in fresh if item.event is not None]
    await project_products(conn, store.id, store.currency, [e for e, _ in models])
    messages = await message_subjects(conn, store.id, models)
    rows, subjects = [], []
    for item, source, _ in fresh:
        customer_id, order_id = subject_ids(item, customer_ids, order_ids, messages)
        rows.append(event_row(store.id, source, item.id, item.type, item.occurred_at, now, customer_id, order_id,
                              item.payload, item.raw))
        subjects.append((customer_id, order_id))
    event_ids = await append_events(conn, store.id, rows)
    # customer statistics move with the orders, in the same transaction (unless left for later)
    buyers = {customer_id for (item, _, later), (customer_id, _) in zip(fresh, subjects, strict=True)
              if not later and item.order_key is not None and customer_id is not None}
    if buyers:
        await refresh_stats(conn, store.id, store.country, buyers, now)
    await record_side_effects(conn, store, [
        StoredEvent(event_ids[item.event.id], item.event, source, customer_id, order_id)
        for (item, source, _), (customer_id, order_id) in zip(fresh, subjects, strict=True)
        if item.event is not None], now)
    return stored

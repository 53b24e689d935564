"""What follows a live event once it is stored, in the intake's transaction: the projectors, called
in the order ``live_projectors`` lists them, each with the whole group of newly stored events.

1. customer statistics move with the orders and the engagement that change them (``keep_stats``);
2. message events and orders beside the event log: engagement rows, suppressions, attribution
   (``tracking.projection``);
3. what an event leaves behind: a coupon of ours redeemed, consent recorded (``side_records``);
4. flows: runs started, woken and ended (``flows.triggers``); a projector may answer how many runs
   each event started, by the event's id;
5. a restock starts the back-in-stock notices (``flows.restock``);
6. a customer's delivery note queues the store's webhook for it (``order_page.note_webhook``).

The intake builds the tuple once, at start-up, and calls it without knowing its members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.customer_stats import record_engagement, refresh_stats
from afterorder.db.events import StoredEvent
from afterorder.db.stores import StoreRow
from afterorder.domain import EventType
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.restock import Restocked, on_restock
from afterorder.flows.triggers import Happened, apply_events
from afterorder.intake.side_records import record_side_effects
from afterorder.order_page.note_webhook import queue_note_webhooks
from afterorder.tracking.projection import TRACKING, after_stored

ENGAGEMENT = {EventType.MESSAGE_OPENED: "open", EventType.MESSAGE_CLICKED: "click"}


class Projector(Protocol):
    async def __call__(self, conn: AsyncConnection, store: StoreRow, stored: Sequence[StoredEvent], now: datetime
                       ) -> Mapping[str, int] | None: ...


def live_projectors(catalog: FlowCatalog) -> tuple[Projector, ...]:
    """The projectors of live events, in the order they run."""
    return (keep_stats, after_stored, record_side_effects, Triggers(catalog), Restocks(catalog), queue_note_webhooks)


async def keep_stats(conn: AsyncConnection, store: StoreRow, stored: Sequence[StoredEvent], now: datetime) -> None:
    """Customer statistics move with the events that change them, in the same transaction.

    Opens and clicks count only when afterorder's own tracking saw them, and an open fetched by a
    privacy proxy (Apple Mail) is not the customer's."""
    buyers = {s.customer_id for s in stored if s.event.order is not None and s.customer_id is not None}
    if buyers:
        await refresh_stats(conn, store.id, store.country, buyers, now)
    engaged = [(s.customer_id, ENGAGEMENT[s.event.type], s.event.occurred_at) for s in stored
               if s.event.type in ENGAGEMENT and s.customer_id is not None and s.source == TRACKING
               and not s.event.properties.get("machine_open")]
    if engaged:
        await record_engagement(conn, store.id, engaged, now)


class Triggers:
    """The store's enabled flows, applied to the events in order."""

    def __init__(self, catalog: FlowCatalog) -> None:
        self.catalog = catalog

    async def __call__(self, conn: AsyncConnection, store: StoreRow, stored: Sequence[StoredEvent], now: datetime
                       ) -> Mapping[str, int]:
        started = await apply_events(conn, self.catalog, store, await self.catalog.enabled(conn, store), [
            Happened(s.event_id, s.event.type, s.event.occurred_at, s.payload or {}, s.customer_id, s.order_id)
            for s in stored], now)
        return {s.event.id: n for s, n in zip(stored, started, strict=True)}


class Restocks:
    """A restocked product starts the notices its subscribers wait for."""

    def __init__(self, catalog: FlowCatalog) -> None:
        self.catalog = catalog

    async def __call__(self, conn: AsyncConnection, store: StoreRow, stored: Sequence[StoredEvent], now: datetime
                       ) -> None:
        await on_restock(conn, self.catalog, store, [
            Restocked(s.event_id, s.event.product.id, s.event.occurred_at) for s in stored
            if s.event.type is EventType.PRODUCT_RESTOCKED and s.event.product is not None], now)

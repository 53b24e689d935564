"""What message events and orders do beside the event log, inside the intake's transaction:

* an open or click (source ``tracking``) gets an ``engagements`` row;
* a hard bounce, a complaint or an unsubscribe reported by a provider (source ``esp:<provider>``)
  suppresses the address;
* an ``order.placed`` is attributed to the last message touched before it.

A message event is about the customer and order its message was sent for; ``message_subjects``
finds them so flows of that customer / order wake on it.  Message events are trusted only from
afterorder's own sources, never from a store's API call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.suppression import Reason, suppress
from afterorder.db.events import StoredEvent
from afterorder.db.schema import engagements, outbox
from afterorder.db.stores import StoreRow
from afterorder.domain import Event, EventType
from afterorder.tracking.attribution import attribute_orders
from afterorder.tracking.settings import load_settings

TRACKING = "tracking"  # the source of opens and clicks (``tracking.engagement``)
ESP_SOURCE_PREFIX = "esp:"


def trusted(source: str) -> bool:
    return source == TRACKING or source.startswith(ESP_SOURCE_PREFIX)


async def message_subjects(conn: AsyncConnection, store_id: int, events: Sequence[tuple[Event, str]]
                           ) -> dict[int, tuple[int | None, int | None]]:
    """(customer id, order id) of the messages these events are about, by outbox id."""
    ids = sorted({e.message.outbox_id for e, source in events if e.message is not None and trusted(source)})
    if not ids:
        return {}
    rows = await conn.execute(select(outbox.c.id, outbox.c.customer_id, outbox.c.order_id)
                              .where(outbox.c.store_id == store_id, outbox.c.id.in_(ids)))
    return {r.id: (r.customer_id, r.order_id) for r in rows}


async def after_stored(conn: AsyncConnection, store: StoreRow, stored: Sequence[StoredEvent], now: datetime) -> None:
    await project_engagements(conn, store.id, [(s.event_id, s.event, s.customer_id) for s in stored
                                               if s.source == TRACKING])
    for s in stored:
        if not s.source.startswith(ESP_SOURCE_PREFIX):
            continue
        reason = _suppression_reason(s.event)
        recipient = str(s.event.properties.get("recipient") or "")
        if reason is not None and recipient:
            await suppress(conn, store.id, recipient, reason, source=s.source.removeprefix(ESP_SOURCE_PREFIX),
                           now=now, event_id=s.event_id, detail=str(s.event.properties.get("description") or ""))
    placed = [(s.order_id, s.customer_id, s.event.occurred_at) for s in stored
              if s.event.type is EventType.ORDER_PLACED and s.order_id is not None and s.customer_id is not None]
    if placed:
        await attribute_orders(conn, store.id, await load_settings(conn, store),
                               [(o, c, at) for o, c, at in placed if o is not None and c is not None], now)


async def project_engagements(conn: AsyncConnection, store_id: int,
                              stored: Sequence[tuple[int, Event, int | None]]) -> None:
    """One ``engagements`` row per stored open or click: (event id, event, customer id)."""
    rows = []
    for event_id, event, customer_id in stored:
        if event.message is None or event.type not in (EventType.MESSAGE_OPENED, EventType.MESSAGE_CLICKED):
            continue
        props = event.properties
        rows.append({
            "store_id": store_id, "outbox_id": event.message.outbox_id, "customer_id": customer_id,
            "kind": "open" if event.type is EventType.MESSAGE_OPENED else "click",
            "machine_open": bool(props.get("machine_open", False)), "url": event.message.url,
            "flow_id": event.message.flow_id, "step": event.message.step, "template": event.message.template,
            "user_agent": str(props.get("user_agent") or "")[:500] or None, "ip": str(props.get("ip") or "") or None,
            "event_id": event_id, "at": event.occurred_at,
        })
    if rows:
        await conn.execute(engagements.insert(), rows)


def _suppression_reason(event: Event) -> Reason | None:
    if event.type is EventType.MESSAGE_COMPLAINED:
        return Reason.COMPLAINT
    if event.type is EventType.MESSAGE_UNSUBSCRIBED:
        return Reason.UNSUBSCRIBE  # unsubscribed at the provider (its own link or List-Unsubscribe)
    if event.type is EventType.MESSAGE_BOUNCED and event.properties.get("bounce") == "hard":
        return Reason.HARD_BOUNCE
    return None

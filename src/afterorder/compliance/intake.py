"""Consent changes carried by events: ``customer.accepts_marketing`` on an order, checkout or
customer event, recorded in the events' own transaction.

* ``true``: granted (or pending, when the store asks for double opt-in and it was not granted yet).
* ``false``: withdrawn, when it was granted or pending; a customer who never said yes and leaves
  the box unticked has not objected, so nothing is recorded.
* After a withdrawal, ``true`` counts only on a checkout event that happened after it (the box
  ticked again); a stale flag on an order event or an import never re-subscribes anyone.

The event's ``properties.consent_wording`` (what the checkbox said) and ``properties.consent_ip``
are kept in the record when given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.consent import EMAIL, MARKETING, Change, ConsentMethod, ConsentStatus, Key, record
from afterorder.compliance.settings import load_one
from afterorder.db.events import StoredEvent
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import consents
from afterorder.domain import Event

IMPORT_SOURCES = frozenset({"file", "csv", "import"})


def _method(item: StoredEvent) -> ConsentMethod:
    if item.source in IMPORT_SOURCES:
        return ConsentMethod.IMPORT
    if item.event.type.is_checkout_event:
        return ConsentMethod.CHECKOUT
    return ConsentMethod.API


def _property(event: Event, name: str, limit: int) -> str | None:
    value = event.properties.get(name)
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _fresh_yes(item: StoredEvent, withdrawn_at: datetime | None) -> bool:
    """After a withdrawal only a new act of consent counts: the checkout box ticked after it.  A
    customer record still saying ``accepts_marketing: true`` (an order event, an import, the store's
    copy not yet updated after an unsubscribe) does not subscribe anyone again."""
    if withdrawn_at is None:
        return True
    return item.event.type.is_checkout_event and item.event.occurred_at > withdrawn_at


_EMAIL_MARKETING = select(consents.c.customer_id, consents.c.status, consents.c.updated_at).where(
    consents.c.store_id == bindparam("store"), in_keys(consents.c.customer_id, "ids"),
    consents.c.channel == EMAIL, consents.c.purpose == MARKETING)  # built once: every batch of events asks


async def record_event_consents(conn: AsyncConnection, store_id: int, stored: Sequence[StoredEvent],
                                now: datetime) -> int:
    """Record the marketing consent changes ``stored`` events carry; returns how many changed."""
    carrying = [s for s in stored if s.customer_id is not None and s.event.customer is not None
                and s.event.customer.accepts_marketing is not None]
    if not carrying:
        return 0
    rows = (await conn.execute(_EMAIL_MARKETING, {
        "store": store_id, "ids": sorted({s.customer_id for s in carrying if s.customer_id is not None})})).all()
    state: dict[int, str | None] = {r.customer_id: r.status for r in rows}
    withdrawn_at = {r.customer_id: r.updated_at for r in rows if r.status == ConsentStatus.WITHDRAWN}
    known: dict[Key, str | None] = {(store_id, c, EMAIL, MARKETING): status for c, status in state.items()}
    grants = any(s.event.customer and s.event.customer.accepts_marketing and state.get(s.customer_id or 0)
                 != ConsentStatus.GRANTED for s in carrying)
    double_opt_in = grants and (await load_one(conn, store_id)).double_opt_in
    changes: list[Change] = []
    for item in carrying:
        assert item.customer_id is not None and item.event.customer is not None
        before = state.get(item.customer_id)
        if item.event.customer.accepts_marketing:
            if before == ConsentStatus.GRANTED or not _fresh_yes(item, withdrawn_at.get(item.customer_id)):
                continue
            status = ConsentStatus.PENDING if double_opt_in else ConsentStatus.GRANTED
        else:
            if before in (None, ConsentStatus.WITHDRAWN):
                continue
            status = ConsentStatus.WITHDRAWN
        if before == status:
            continue
        state[item.customer_id] = status
        wording = _property(item.event, "consent_wording", 4000) or (
            f"customer.accepts_marketing={str(item.event.customer.accepts_marketing).lower()} "
            f"on {item.event.type.value}")
        changes.append(Change(store_id, item.customer_id, status, _method(item), wording=wording,
                              source_ip=_property(item.event, "consent_ip", 64), event_id=item.event_id))
    return len(await record(conn, changes, now, known))

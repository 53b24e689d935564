"""Consent changes carried by events: ``customer.accepts_marketing`` on an order, checkout or
customer event, recorded in the events' own transaction.

* ``true``: granted (or pending, when the store asks for double opt-in and it was not granted yet).
* ``false``: withdrawn, when it was granted or pending; a customer who never said yes and leaves
  the box unticked has not objected, so nothing is recorded.

The event's ``properties.consent_wording`` (what the checkbox said) and ``properties.consent_ip``
are kept in the record when given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.consent import EMAIL, MARKETING, Change, ConsentMethod, ConsentStatus, Key, current, record
from afterorder.compliance.settings import load_one
from afterorder.domain import Event

IMPORT_SOURCES = frozenset({"file", "csv", "import"})


@dataclass(frozen=True)
class Stored:
    event: Event
    event_id: int
    customer_id: int | None
    source: str


def _method(item: Stored) -> ConsentMethod:
    if item.source in IMPORT_SOURCES:
        return ConsentMethod.IMPORT
    if item.event.type.is_checkout_event:
        return ConsentMethod.CHECKOUT
    return ConsentMethod.API


def _property(event: Event, name: str, limit: int) -> str | None:
    value = event.properties.get(name)
    return value[:limit] if isinstance(value, str) and value.strip() else None


async def record_event_consents(conn: AsyncConnection, store_id: int, stored: Sequence[Stored],
                                now: datetime) -> int:
    """Record the marketing consent changes ``stored`` events carry; returns how many changed."""
    carrying = [s for s in stored if s.customer_id is not None and s.event.customer is not None
                and s.event.customer.accepts_marketing is not None]
    if not carrying:
        return 0
    state: dict[int, str | None] = {c: status for (c, _, _), status in
                                    (await current(conn, store_id, {s.customer_id for s in carrying if s.customer_id})
                                     ).items()}
    known: dict[Key, str | None] = {(store_id, c, EMAIL, MARKETING): status for c, status in state.items()}
    grants = any(s.event.customer and s.event.customer.accepts_marketing and state.get(s.customer_id or 0)
                 != ConsentStatus.GRANTED for s in carrying)
    double_opt_in = grants and (await load_one(conn, store_id)).double_opt_in
    changes: list[Change] = []
    for item in carrying:
        assert item.customer_id is not None and item.event.customer is not None
        before = state.get(item.customer_id)
        if item.event.customer.accepts_marketing:
            if before == ConsentStatus.GRANTED:
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

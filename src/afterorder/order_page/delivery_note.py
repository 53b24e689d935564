"""The customer's note for the delivery, left on the order page until the order is out for delivery.

A note is a choice of where the parcel goes (``CHOICES``: leave it at the door, hand it to me, leave
it with the concierge or a neighbour, put it in the delivery box), a preferred time window as Japanese
carriers offer them (``WINDOWS``: 午前中, 14–16, 16–18, 18–20, 19–21, or any time) and a few words
(at most ``MAX_TEXT`` characters).  ``parse_note`` reads the page's form and raises
:class:`NoteError` naming the field; nothing is stored then.

Saved, a note is an ``order.delivery_note`` event (``note_event``) stored through the one intake, so
it is in the order's history, on the dashboard and in the API, and flows and the store's webhook
(``order_page.note_webhook``) see it like any other event.  Saving is idempotent: a note equal to
the one in force stores nothing (``same_as``); a changed one is a new event with the next revision,
and the latest event is the note in force (``current_note``).  Two identical notes posted at the
same moment get the same event id (revision and digest) and the intake keeps one.

The page's form carries ``form_nonce(signer, token)``: an HMAC of the page's token under the store's
key, so a form made on another site (which cannot read the page) cannot post a note (checked with
``nonce_ok``, in constant time).  Once the order is out for delivery, delivered, cancelled or
refunded, ``closed_reason`` names why the note can no longer change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.schema import events, orders
from afterorder.db.stores import StoreRow
from afterorder.domain import Event, EventSink, EventType
from afterorder.signing import Signer

CHOICES: Final = ("door", "hand", "concierge", "box")
WINDOWS: Final = ("any", "am", "14-16", "16-18", "18-20", "19-21")
MAX_TEXT: Final = 200
FORM_PURPOSE: Final = "delivery-note-form"
SOURCE: Final = "order-page"
CLOSED_STATUSES: Final = ("delivered", "cancelled", "refunded")


class NoteJson(TypedDict):
    choice: str
    window: str
    text: str


class NoteError(ValueError):
    """A field of the note's form is missing or not allowed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DeliveryNote:
    choice: str
    window: str
    text: str

    def as_json(self) -> NoteJson:
        return NoteJson(choice=self.choice, window=self.window, text=self.text)

    @property
    def digest(self) -> str:
        """A short fingerprint of the note's content (part of its event id)."""
        canonical = json.dumps(self.as_json(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]


@dataclass(frozen=True)
class SavedNote:
    note: DeliveryNote
    saved_at: datetime
    revision: int
    event_id: str


def _one(fields: Mapping[str, Sequence[str]], name: str) -> str:
    given = fields.get(name) or []
    if len(given) > 1:
        raise NoteError(name, "give it once")
    return given[0].strip() if given else ""


def parse_note(fields: Mapping[str, Sequence[str]]) -> DeliveryNote:
    """The note the form's ``choice``, ``window`` and ``text`` fields describe; ``NoteError`` naming the
    first field at fault.  Line breaks in the text are kept; other control characters are refused."""
    choice = _one(fields, "choice")
    if choice not in CHOICES:
        raise NoteError("choice", f"choose one of {', '.join(CHOICES)}")
    window = _one(fields, "window") or "any"
    if window not in WINDOWS:
        raise NoteError("window", f"choose one of {', '.join(WINDOWS)}")
    text = _one(fields, "text").replace("\r\n", "\n")
    if len(text) > MAX_TEXT:
        raise NoteError("text", f"at most {MAX_TEXT} characters (got {len(text)})")
    if any((ord(ch) < 32 and ch != "\n") or ord(ch) == 127 for ch in text):
        raise NoteError("text", "control characters are not allowed")
    return DeliveryNote(choice, window, text)


def form_nonce(signer: Signer, token: str) -> str:
    """The value the page's form carries: bound to this page's token and the store's key."""
    return signer.digest(FORM_PURPOSE, token.encode()).hex()[:32]


def nonce_ok(signer: Signer, token: str, given: str) -> bool:
    return hmac.compare_digest(form_nonce(signer, token), given)


def closed_reason(status: str, out_for_delivery: bool) -> str | None:
    """Why the note can no longer change (``delivered``, ``cancelled``, ``refunded``,
    ``out_for_delivery``), or None while it can."""
    if status in CLOSED_STATUSES:
        return status
    return "out_for_delivery" if out_for_delivery else None


def _saved(payload: Mapping[str, Any] | None, occurred_at: datetime, event_id: str) -> SavedNote | None:
    props = (payload or {}).get("properties") or {}
    try:
        note = DeliveryNote(str(props["choice"]), str(props.get("window") or "any"), str(props.get("text") or ""))
    except (KeyError, TypeError):
        return None  # a store's own event without our fields: not a note the page can show
    return SavedNote(note, occurred_at, int(props.get("revision") or 0), event_id)


async def note_history(conn: AsyncConnection, store_id: int, order_id: int) -> list[SavedNote]:
    """Every note saved for the order, the one in force first."""
    rows = (await conn.execute(
        select(events.c.payload, events.c.occurred_at, events.c.source_id).where(
            events.c.store_id == store_id, events.c.order_id == order_id,
            events.c.type == EventType.ORDER_DELIVERY_NOTE.value)
        .order_by(events.c.occurred_at.desc(), events.c.id.desc()))).all()
    return [saved for row in rows if (saved := _saved(row.payload, row.occurred_at, row.source_id)) is not None]


async def current_note(conn: AsyncConnection, store_id: int, order_id: int) -> SavedNote | None:
    found = await note_history(conn, store_id, order_id)
    return found[0] if found else None


def note_event(order_row_id: int, order_external_id: str, note: DeliveryNote, revision: int,
               now: datetime) -> Event:
    """The ``order.delivery_note`` event of revision ``revision`` of the order's note."""
    return Event.model_validate({
        "id": f"delivery-note:{order_row_id}:{revision}:{note.digest}",
        "type": EventType.ORDER_DELIVERY_NOTE.value, "occurred_at": now.isoformat(),
        "order": {"id": order_external_id},
        "properties": {**note.as_json(), "revision": revision, "source": SOURCE},
    })


async def save_note(sink: EventSink, engine: AsyncEngine, store: StoreRow, order_id: int, note: DeliveryNote,
                    now: datetime) -> bool:
    """Store ``note`` for the store's order ``order_id`` (its row id) as an ``order.delivery_note``
    event through ``sink`` (the intake); False, storing nothing, when it is the note in force already."""
    async with engine.connect() as conn:
        external_id = (await conn.execute(select(orders.c.external_id).where(
            orders.c.store_id == store.id, orders.c.id == order_id))).scalar()
        found = await current_note(conn, store.id, order_id)
    if external_id is None:
        raise LookupError("no such order")
    if found is not None and found.note == note:
        return False
    revision = (found.revision if found else 0) + 1
    await sink.ingest(store, [note_event(order_id, str(external_id), note, revision, now)], source=SOURCE)
    return True

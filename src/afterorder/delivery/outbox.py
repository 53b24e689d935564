"""The one writer of outbox rows: every message that goes out (a flow's step, a store's NPS alert,
a double opt-in confirmation) is an ``OutboxMessage``, written by ``write_messages`` in its caller's
transaction (the transactional outbox: the message is stored with what decided to send it).

A message's row is in ``outbox`` and its payload as sent in ``outbox_bodies``, both under its
idempotency key (run + step for a flow's message): writing a key that is there already changes
nothing, so a retried batch never queues a message twice.  A LINE message that may go by email
instead keeps its email rendering beside it, under ``<key>#email`` (``FALLBACK_SUFFIX``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import ChannelKind
from afterorder.db.schema import outbox, outbox_bodies
from afterorder.db.statements import execute_many, insert_ignore

FALLBACK_SUFFIX = "#email"  # the key of a message's email rendering in outbox_bodies
COLUMNS = ("store_id", "run_id", "idempotency_key", "message_id", "channel", "category", "template", "customer_id",
           "order_id", "envelope_from", "attempts", "next_attempt_at", "created_at", "locale", "recipient", "subject",
           "status", "last_error", "ab_test_id", "variant", "fallback_to")
BODY_COLUMNS = ("store_id", "idempotency_key", "data")
QUEUED = "queued"
SKIPPED = "skipped"  # nothing to send (no address on any of the step's channels): kept so reports count it


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message as the outbox keeps it, before its first attempt."""

    store_id: int
    idempotency_key: str
    message_id: str  # the Message-ID of an email; the idempotency key at the provider for every channel
    category: str  # transactional | marketing
    template: str
    envelope_from: str
    locale: str
    recipient: str
    created_at: datetime
    next_attempt_at: datetime
    channel: ChannelKind = ChannelKind.EMAIL
    subject: str = ""  # the email's subject; a LINE message's altText; an SMS's text
    data: str = ""  # the payload as sent: the MIME text, LINE's {"messages"} JSON, the SMS JSON
    status: str = QUEUED
    last_error: str | None = None  # a skipped message: why
    run_id: int | None = None  # the flow run that sent it (None: the store's alerts, confirmations)
    customer_id: int | None = None
    order_id: int | None = None
    ab_test_id: int | None = None
    variant: str | None = None
    fallback_to: str | None = None  # a LINE message's email address, should LINE not reach them
    fallback: str | None = None  # ... and its email rendering, written under ``<key>#email``

    def row(self) -> dict[str, Any]:
        return {"store_id": self.store_id, "run_id": self.run_id, "idempotency_key": self.idempotency_key,
                "message_id": self.message_id, "channel": self.channel.value, "category": self.category,
                "template": self.template, "customer_id": self.customer_id, "order_id": self.order_id,
                "envelope_from": self.envelope_from, "attempts": 0, "next_attempt_at": self.next_attempt_at,
                "created_at": self.created_at, "locale": self.locale, "recipient": self.recipient,
                "subject": self.subject, "status": self.status, "last_error": self.last_error,
                "ab_test_id": self.ab_test_id, "variant": self.variant, "fallback_to": self.fallback_to}

    def bodies(self) -> list[dict[str, Any]]:
        """Its ``outbox_bodies`` rows: the payload, and a LINE message's email rendering."""
        found = [{"store_id": self.store_id, "idempotency_key": self.idempotency_key, "data": self.data}
                 ] if self.data else []
        if self.fallback:
            found.append({"store_id": self.store_id, "idempotency_key": self.idempotency_key + FALLBACK_SUFFIX,
                          "data": self.fallback})
        return found


async def write_messages(conn: AsyncConnection, messages: Sequence[OutboxMessage]) -> None:
    """Queue ``messages`` with their payloads, in ``conn``'s transaction; a key already written is left
    as it is.  One statement per table, straight to the driver (a batch is one executemany)."""
    if not messages:
        return
    await execute_many(conn, insert_ignore(outbox, COLUMNS), [m.row() for m in messages])
    await execute_many(conn, insert_ignore(outbox_bodies, BODY_COLUMNS), [b for m in messages for b in m.bodies()])

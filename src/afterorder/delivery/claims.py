"""Delivery's claim: which queued messages a worker takes next, and what it reads with them.

* **Turns between stores.**  A claim takes due messages class by class — transactional ones of
  every store first, then marketing ones — and within a class gives every store with due messages
  its share of the batch, interleaved (each store's oldest, then each store's second, …), which is
  the order they are sent in (``db/turns.py``).  So a store with a hundred thousand queued
  campaign mails takes one share of a claim, not claim after claim, and another store's order
  confirmation is among the first few of the next claim — and, being transactional, before any
  marketing message of its own store.
* **Leases.**  A claimed message is ``sending`` under this worker until ``claimed_until``; one whose
  lease ended (its worker died) is due again, taken before the queued ones of its class.  On
  PostgreSQL the picks lock the rows they take and skip those other workers are taking (``FOR
  UPDATE SKIP LOCKED``), so many workers share the queue; every claimed row's started attempt is
  written in the claim's transaction, and an earlier attempt still ``started`` is closed as
  ``interrupted``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import ChannelKind, OutgoingMessage
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import customers, delivery_attempts, outbox, outbox_bodies
from afterorder.db.turns import Turns
from afterorder.delivery.outbox import FALLBACK_SUFFIX
from afterorder.keys.stored import DkimKey

INTERRUPTED = "worker stopped before the outcome was known"
UNFOLLOWED = "the customer unfollowed the store's LINE account"
MISSING_BODY = "the message's content is missing from the outbox"


@dataclass(frozen=True)
class Claimed:
    id: int
    store_id: int
    attempt: int
    message: OutgoingMessage
    blocked: str | None  # why it may not go out, if it may not
    send_by: datetime  # not started by then, it waits for its lease to end (another worker may take it)
    dkim: DkimKey | None = None  # the store's key: signed just before it is sent
    fallback: OutgoingMessage | None = None  # its email rendering, when it may go by email instead
    reroute: str | None = None  # why it goes by its fallback, when that was known at the claim


def _classes(category: str) -> tuple[tuple[Any, ...], ...]:
    """A category's due messages: those a dead worker's lease left, then the queued ones."""
    mine = outbox.c.category == category
    return ((outbox.c.status == "sending", mine, outbox.c.claimed_until < bindparam("now")),
            (outbox.c.status == "queued", mine, outbox.c.next_attempt_at <= bindparam("now")))


# Built once (they run for every batch).  ``ix_outbox_store_due`` (status, store_id, category,
# next_attempt_at) makes every class of every store one index range, oldest first.
_TURNS = Turns(outbox, (outbox.c.store_id, outbox.c.category, outbox.c.next_attempt_at),
               (*_classes("transactional"), *_classes("marketing")))
_INTERRUPTED = delivery_attempts.update().where(
    in_keys(delivery_attempts.c.store_id, "stores"),
    in_keys(delivery_attempts.c.outbox_id, "ids"), delivery_attempts.c.outcome == "started",
).values(outcome="interrupted", finished_at=bindparam("now"), detail=INTERRUPTED)
_CLAIM = (outbox.update().where(in_keys(outbox.c.id, "ids"))
          .values(status="sending", attempts=outbox.c.attempts + 1, claimed_by=bindparam("worker"),
                  claimed_until=bindparam("until"))
          .returning(outbox.c.id, outbox.c.store_id, outbox.c.attempts, outbox.c.message_id, outbox.c.envelope_from,
                     outbox.c.recipient, outbox.c.idempotency_key, outbox.c.category, outbox.c.customer_id,
                     outbox.c.channel, outbox.c.template, outbox.c.fallback_to))
_BODIES = (outbox_bodies.select().with_only_columns(outbox_bodies.c.store_id, outbox_bodies.c.idempotency_key,
                                                     outbox_bodies.c.data)
           .where(in_keys(outbox_bodies.c.store_id, "stores"), in_keys(outbox_bodies.c.idempotency_key, "keys")))
_FOLLOWING = customers.select().with_only_columns(customers.c.store_id, customers.c.id, customers.c.line_following
                                                  ).where(in_keys(customers.c.store_id, "stores"),
                                                          in_keys(customers.c.id, "ids"))
_DEFER = outbox.update().where(outbox.c.id == bindparam("outbox_id")).values(
    status="queued", attempts=outbox.c.attempts - 1, next_attempt_at=bindparam("until"), claimed_by=None,
    claimed_until=None, last_error=bindparam("why"))


async def take_due(conn: AsyncConnection, worker: str, batch: int, until: datetime, now: datetime) -> list[Any]:
    """Claim up to ``batch`` due messages for ``worker`` until ``until``, in turns between stores
    (transactional first); their rows, in the order they are to be sent."""

    async def claim(ids: list[int]) -> Sequence[Any]:
        rows = (await conn.execute(_CLAIM, {"ids": ids, "worker": worker, "until": until})).all()
        await conn.execute(_INTERRUPTED, {"stores": sorted({r.store_id for r in rows}), "ids": ids, "now": now})
        position = {id_: n for n, id_ in enumerate(ids)}
        return sorted(rows, key=lambda r: position[r.id])

    return await _TURNS.take(conn, batch, {"now": now}, claim)


async def defer(conn: AsyncConnection, rows: Sequence[Any], until: dict[int, datetime]) -> None:
    """Put ``rows`` back in the queue until ``until[id]`` (quiet hours): that was no attempt."""
    if rows:
        await conn.execute(_DEFER, [{"outbox_id": r.id, "until": until[r.id],
                                     "why": f"deferred: quiet hours until {until[r.id]}"} for r in rows])


async def bodies(conn: AsyncConnection, rows: Sequence[Any]) -> dict[tuple[int, str], str]:
    """(store, idempotency key) → the payload of each row, and of its email rendering if it has one."""
    if not rows:
        return {}
    keys = [r.idempotency_key for r in rows] + [r.idempotency_key + FALLBACK_SUFFIX for r in rows if r.fallback_to]
    return {(b.store_id, b.idempotency_key): b.data for b in await conn.execute(_BODIES, {
        "stores": sorted({r.store_id for r in rows}), "keys": keys})}


async def unfollowed(conn: AsyncConnection, rows: Sequence[Any]) -> set[tuple[int, int]]:
    """(store, customer) of LINE messages whose customer unfollowed the account since it was queued."""
    line = [r for r in rows if r.channel == "line" and r.customer_id is not None]
    if not line:
        return set()
    found = await conn.execute(_FOLLOWING, {"stores": sorted({r.store_id for r in line}),
                                            "ids": sorted({r.customer_id for r in line})})
    return {(f.store_id, f.id) for f in found if f.line_following is False}


def claimed(r: Any, found: dict[tuple[int, str], str], blocked: str | None, reroute: str | None,
            send_by: datetime, key: DkimKey | None) -> Claimed:
    """The claimed row ``r`` as it is sent: its payload from ``found`` (refused if it has none)."""
    channel = ChannelKind(r.channel)
    body = found.get((r.store_id, r.idempotency_key))
    if body is None:  # never sent empty: a row written without its content is refused
        blocked = blocked or MISSING_BODY
    message = OutgoingMessage(r.message_id, r.envelope_from, (r.recipient,), (body or "").encode("utf-8"),
                              channel, r.category, r.template)
    fallback_body = found.get((r.store_id, r.idempotency_key + FALLBACK_SUFFIX)) if r.fallback_to else None
    fallback = (OutgoingMessage(r.message_id, r.envelope_from, (r.fallback_to,), fallback_body.encode("utf-8"),
                                ChannelKind.EMAIL, r.category, r.template) if fallback_body is not None else None)
    return Claimed(r.id, r.store_id, r.attempts, message, blocked, send_by, key, fallback, reroute)


"""Delivery: claim queued outbox messages with a lease, check what may go out, hand each to the
channel, and record every attempt.  Temporary failures come back later with backoff.

Outcomes are written as soon as they are known (a group commit of whatever finished meanwhile,
one statement per table), so the window in which a crash can leave a sent message looking unsent
is one commit wide.  Such a message is sent again with the same bytes and the same Message-ID.

While one claimed batch is being sent, the next is claimed, so the channel never waits for the
database when there is more to send.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels import Channel, OutgoingMessage, RetryPolicy, SendOutcome, SendResult
from afterorder.clock import Clock
from afterorder.compliance import dkim
from afterorder.compliance.gate import judge
from afterorder.compliance.settings import DkimKey
from afterorder.compliance.suppression import blocked_reason, reasons_for
from afterorder.db.dialect import skip_locked
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import delivery_attempts, outbox, outbox_bodies

INTERRUPTED = "worker stopped before the outcome was known"

# A flush writes every outcome with one statement per table (executemany).  A message whose lease
# passed to another worker is not ours to record any more.
_RECORD_MESSAGE = outbox.update().where(
    outbox.c.id == bindparam("outbox_id"), outbox.c.claimed_by == bindparam("worker"))
_RECORD_ATTEMPT = delivery_attempts.update().where(
    delivery_attempts.c.store_id == bindparam("store_id_"), delivery_attempts.c.outbox_id == bindparam("outbox_id_"),
    delivery_attempts.c.attempt == bindparam("attempt_"), delivery_attempts.c.outcome == "started",
)


# The claim, built once (it runs for every batch): oldest due first, queued or left by a worker
# whose lease ended.
_PICK = (select(outbox.c.id, outbox.c.store_id).where(or_(
    and_(outbox.c.status == "queued", outbox.c.next_attempt_at <= bindparam("now")),
    and_(outbox.c.status == "sending", outbox.c.claimed_until < bindparam("now")),
)).order_by(outbox.c.next_attempt_at).limit(bindparam("batch")))
_PICK_LOCKED = _PICK.with_for_update(skip_locked=True)
_INTERRUPTED = delivery_attempts.update().where(
    in_keys(delivery_attempts.c.store_id, "stores"),
    in_keys(delivery_attempts.c.outbox_id, "ids"), delivery_attempts.c.outcome == "started",
).values(outcome="interrupted", finished_at=bindparam("now"), detail=INTERRUPTED)
_CLAIM = (outbox.update().where(in_keys(outbox.c.id, "ids"))
          .values(status="sending", attempts=outbox.c.attempts + 1, claimed_by=bindparam("worker"),
                  claimed_until=bindparam("until"))
          .returning(outbox.c.id, outbox.c.store_id, outbox.c.attempts, outbox.c.message_id, outbox.c.envelope_from,
                     outbox.c.recipient, outbox.c.idempotency_key, outbox.c.category, outbox.c.customer_id,
                     outbox.c.channel))
_BODIES = select(outbox_bodies.c.store_id, outbox_bodies.c.idempotency_key, outbox_bodies.c.data).where(
    in_keys(outbox_bodies.c.store_id, "stores"),
    in_keys(outbox_bodies.c.idempotency_key, "keys"))


@dataclass(frozen=True)
class DeliverySettings:
    worker_id: str
    lease: timedelta = timedelta(seconds=60)
    batch: int = 500  # messages claimed at once
    concurrency: int = 8  # sends in flight
    claims_per_run: int = 4  # ``run_due`` claims again (while the last claim was full) up to this many times


@dataclass(frozen=True)
class Claimed:
    id: int
    store_id: int
    attempt: int
    email: OutgoingMessage
    blocked: str | None  # why it may not go out, if it may not
    send_by: datetime  # not started by then, it waits for its lease to end (another worker may take it)
    dkim: DkimKey | None = None  # the store's key: signed just before it is sent


class Delivery:
    def __init__(self, engine: AsyncEngine, channel: Channel, clock: Clock, policy: RetryPolicy,
                 settings: DeliverySettings) -> None:
        self.engine = engine
        self.channel = channel
        self.clock = clock
        self.policy = policy
        self.settings = settings
        self._pending: list[tuple[Claimed, SendResult, datetime]] = []
        self._flush_lock = asyncio.Lock()

    async def claim(self) -> list[Claimed]:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            pick = _PICK_LOCKED if skip_locked(conn) else _PICK
            picked = (await conn.execute(pick, {"now": now, "batch": self.settings.batch})).all()
            if not picked:
                return []
            ids = [row.id for row in picked]
            await conn.execute(_INTERRUPTED, {"stores": sorted({row.store_id for row in picked}), "ids": ids,
                                              "now": now})
            rows = (await conn.execute(_CLAIM, {"ids": ids, "worker": self.settings.worker_id,
                                                "until": now + self.settings.lease})).all()
            position = {id_: n for n, id_ in enumerate(ids)}  # oldest first, as picked
            verdicts, settings = await judge(conn, sorted(rows, key=lambda r: position[r.id]), now)
            suppressed = await reasons_for(conn, [(r.store_id, r.recipient) for r in rows])
            refused = {r.id: reason for r in rows if (reason := blocked_reason(
                r.category, suppressed.get((r.store_id, r.recipient), set()))) is not None}
            deferred = {r.id for r in rows if verdicts[r.id].defer_until is not None and r.id not in refused}
            for r in rows:  # quiet hours: back in the queue until they end; that was no attempt
                if r.id in deferred:
                    until = verdicts[r.id].defer_until
                    assert until is not None
                    await conn.execute(outbox.update().where(outbox.c.id == r.id).values(
                        status="queued", attempts=outbox.c.attempts - 1, next_attempt_at=until, claimed_by=None,
                        claimed_until=None, last_error=f"deferred: quiet hours until {until.isoformat()}"))
            rows = [r for r in rows if r.id not in deferred]
            bodies = {(b.store_id, b.idempotency_key): b.data for b in await conn.execute(_BODIES, {
                "stores": sorted({r.store_id for r in rows}), "keys": [r.idempotency_key for r in rows]})}
            await conn.execute(delivery_attempts.insert(), [
                {"store_id": r.store_id, "outbox_id": r.id, "attempt": r.attempts, "started_at": now,
                 "outcome": "started", "detail": "", "worker": self.settings.worker_id} for r in rows
            ])
        claimed = []
        for r in sorted(rows, key=lambda r: position[r.id]):
            claimed.append(Claimed(
                r.id, r.store_id, r.attempts,
                OutgoingMessage(r.message_id, r.envelope_from, (r.recipient,),
                              bodies[(r.store_id, r.idempotency_key)].encode("utf-8")),
                refused.get(r.id) or verdicts[r.id].blocked,
                now + self.settings.lease / 2, settings[r.store_id].dkim))
        return claimed

    async def run_due(self) -> int:
        """Claim due messages and send them with up to ``concurrency`` in flight; returns how many were
        handled.  While a full claim is being sent the next one is claimed (at most ``claims_per_run``)."""
        gate = asyncio.Semaphore(self.settings.concurrency)
        low = asyncio.Event()
        waiting = 0  # claimed, not yet handed to the channel
        handled = 0
        tasks: list[asyncio.Task[None]] = []

        def dequeued() -> None:
            nonlocal waiting
            waiting -= 1
            if waiting <= self.settings.batch // 2:
                low.set()

        async def one(item: Claimed) -> None:
            if item.blocked:
                dequeued()
                result = SendResult(SendOutcome.PERMANENT, None, item.blocked)
            else:
                async with gate:
                    dequeued()
                    if self.clock.now() >= item.send_by:
                        return  # too close to the end of its lease to start sending it now
                    email = item.email
                    if item.dkim is not None:  # ~1-2 ms of RSA: in a thread, off the event loop
                        email = replace(email, data=await asyncio.to_thread(
                            dkim.sign, email.data, item.dkim, self.clock.now()))
                    result = await self.channel.send(email)
            self._pending.append((item, result, self.clock.now()))
            await self._flush()

        try:
            for _ in range(max(self.settings.claims_per_run, 1)):
                claimed = await self.claim()
                handled += len(claimed)
                waiting += len(claimed)
                low.clear()
                tasks.extend(asyncio.create_task(one(item)) for item in claimed)
                if len(claimed) < self.settings.batch:
                    break  # that was all that is due now
                await low.wait()  # half of it has gone to the channel: claim the next while the rest goes
        finally:
            if tasks:
                await asyncio.gather(*tasks)
        return handled

    async def _flush(self) -> None:
        """Write every outcome that came in meanwhile: one transaction, one statement per table."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            messages: list[dict[str, Any]] = []
            attempts: list[dict[str, Any]] = []
            for item, result, at in batch:
                status, next_at, error = self._next(item, result, at)
                messages.append({
                    "outbox_id": item.id, "worker": self.settings.worker_id, "status": status,
                    "next_attempt_at": next_at, "last_error": error, "claimed_until": None, "claimed_by": None,
                    "sent_at": at if status == "sent" else None,
                })
                attempts.append({
                    "store_id_": item.store_id, "outbox_id_": item.id, "attempt_": item.attempt,
                    "outcome": "skipped" if item.blocked else result.outcome.value, "code": result.code,
                    "detail": result.detail[:2000], "finished_at": at,
                })
            async with self.engine.begin() as conn:
                await conn.execute(_RECORD_MESSAGE, messages)
                await conn.execute(_RECORD_ATTEMPT, attempts)

    def _next(self, item: Claimed, result: SendResult, at: datetime) -> tuple[str, datetime, str | None]:
        if item.blocked:
            return "skipped", at, item.blocked
        if result.outcome is SendOutcome.SENT:
            return "sent", at, None
        decision = self.policy.decide(item.attempt, result)
        error = f"{result.code or ''} {result.detail}".strip()
        if decision.retry:
            return "queued", at + timedelta(seconds=decision.delay_seconds), error
        return "failed", at, error

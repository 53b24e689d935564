"""Delivery: claim queued outbox messages with a lease, check what may go out, hand each to the
channel, and record every attempt.  Temporary failures come back later with backoff.

Outcomes are written as soon as they are known (a group commit of whatever finished meanwhile),
so the window in which a crash can leave a sent message looking unsent is one commit wide.  Such
a message is sent again with the same bytes and the same Message-ID.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.channels import Channel, OutgoingEmail, RetryPolicy, SendOutcome, SendResult
from afterorder.clock import Clock
from afterorder.db.dialect import skip_locked
from afterorder.db.schema import customers, delivery_attempts, outbox


@dataclass(frozen=True)
class DeliverySettings:
    worker_id: str
    lease: timedelta = timedelta(seconds=60)
    batch: int = 500
    concurrency: int = 8


@dataclass(frozen=True)
class Claimed:
    id: int
    store_id: int
    attempt: int
    email: OutgoingEmail
    blocked: str | None  # why it may not go out, if it may not


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
        due = or_(
            and_(outbox.c.status == "queued", outbox.c.next_attempt_at <= now),
            and_(outbox.c.status == "sending", outbox.c.claimed_until < now),
        )
        async with self.engine.begin() as conn:
            pick = select(outbox.c.id).where(due).order_by(outbox.c.next_attempt_at).limit(self.settings.batch)
            if skip_locked(conn):
                pick = pick.with_for_update(skip_locked=True)
            ids = [row.id for row in await conn.execute(pick)]
            if not ids:
                return []
            await conn.execute(
                delivery_attempts.update()
                .where(delivery_attempts.c.outbox_id.in_(ids), delivery_attempts.c.outcome == "started")
                .values(outcome="interrupted", finished_at=now, detail="worker stopped before the outcome was known")
            )
            rows = (await conn.execute(
                outbox.update().where(outbox.c.id.in_(ids))
                .values(status="sending", attempts=outbox.c.attempts + 1, claimed_by=self.settings.worker_id,
                        claimed_until=now + self.settings.lease)
                .returning(outbox.c.id, outbox.c.store_id, outbox.c.attempts, outbox.c.message_id,
                           outbox.c.envelope_from, outbox.c.recipient, outbox.c.data, outbox.c.category,
                           outbox.c.customer_id)
            )).all()
            consent = await self._marketing_consent(conn, [r.customer_id for r in rows if r.category == "marketing"])
            await conn.execute(delivery_attempts.insert(), [
                {"store_id": r.store_id, "outbox_id": r.id, "attempt": r.attempts, "started_at": now,
                 "outcome": "started", "detail": "", "worker": self.settings.worker_id} for r in rows
            ])
        claimed = []
        for r in rows:
            blocked = None
            if r.category == "marketing" and not consent.get(r.customer_id, False):
                blocked = "no marketing consent"
            claimed.append(Claimed(
                r.id, r.store_id, r.attempts,
                OutgoingEmail(r.message_id, r.envelope_from, (r.recipient,), r.data.encode("ascii")), blocked))
        return claimed

    @staticmethod
    async def _marketing_consent(conn: AsyncConnection, customer_ids: list[int | None]) -> dict[int | None, bool]:
        ids = [c for c in customer_ids if c is not None]
        if not ids:
            return {}
        rows = await conn.execute(select(customers.c.id, customers.c.accepts_marketing).where(customers.c.id.in_(ids)))
        return {r.id: bool(r.accepts_marketing) for r in rows}

    async def run_due(self) -> int:
        """Claim one batch, send it with up to ``concurrency`` in flight; returns how many were handled."""
        claimed = await self.claim()
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(item: Claimed) -> None:
            if item.blocked:
                result = SendResult(SendOutcome.PERMANENT, None, item.blocked)
            else:
                async with gate:
                    result = await self.channel.send(item.email)
            self._pending.append((item, result, self.clock.now()))
            await self._flush()

        await asyncio.gather(*(one(item) for item in claimed))
        return len(claimed)

    async def _flush(self) -> None:
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            async with self.engine.begin() as conn:
                for item, result, at in batch:
                    status, next_at, error = self._next(item, result, at)
                    await conn.execute(outbox.update().where(
                        outbox.c.id == item.id, outbox.c.claimed_by == self.settings.worker_id,
                    ).values(
                        status=status, next_attempt_at=next_at, last_error=error, claimed_until=None,
                        claimed_by=None, sent_at=at if status == "sent" else None,
                    ))
                    await conn.execute(delivery_attempts.update().where(
                        delivery_attempts.c.outbox_id == item.id, delivery_attempts.c.attempt == item.attempt,
                        delivery_attempts.c.outcome == "started",
                    ).values(outcome="skipped" if item.blocked else result.outcome.value, code=result.code,
                             detail=result.detail[:2000], finished_at=at))

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

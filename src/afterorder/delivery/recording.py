"""Delivery's records: every outcome of a send, written before its concurrency slot is reused.

Outcomes are committed in groups, one transaction and one statement per table for a group
(``execute_many``: SQLAlchemy's executemany converted each row's dict again, ~35 µs a row, three
rows a message).  The first sender to come with an outcome commits group after group until none is
pending; the others wait for the commit of their own group only.  A group waits up to
``group_wait`` for the sends still out, or until ``group`` outcomes are waiting (a commit costs about
as much CPU as twenty outcomes in it), except that an SMS (no idempotency key at the provider) is
committed at once.  A message whose lease passed to another worker is not ours to record any more:
its row is left as it is.  A group that failed to commit stays pending and goes with the next.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels import RetryPolicy, SendResult
from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.setup import update_prefs
from afterorder.clock import Clock
from afterorder.db.schema import Id, delivery_attempts, outbox
from afterorder.db.statements import execute_many, insert_rows, typed_statement
from afterorder.delivery.claims import Claimed

_RECORDED = ("status", "next_attempt_at", "last_error", "claimed_until", "claimed_by", "sent_at", "channel",
             "recipient", "provider", "provider_message_id")
_RECORD_MESSAGE = typed_statement(
    f"UPDATE outbox SET {', '.join(f'{c} = :{c}' for c in _RECORDED)}, attempts = attempts - :undo "
    "WHERE id = :outbox_id AND claimed_by = :worker", outbox, _RECORDED, (),
    {"undo": Integer(), "outbox_id": Id, "worker": String()})
_FINISHED = ("outcome", "code", "detail", "finished_at")
_RECORD_ATTEMPT = typed_statement(
    f"UPDATE delivery_attempts SET {', '.join(f'{c} = :{c}' for c in _FINISHED)} WHERE store_id = :store_id_ "
    "AND outbox_id = :outbox_id_ AND attempt = :attempt_ AND outcome = 'started'", delivery_attempts, _FINISHED, (),
    {"store_id_": Id, "outbox_id_": Id, "attempt_": Integer()})
STARTED = insert_rows(delivery_attempts, ("store_id", "outbox_id", "attempt", "started_at", "outcome", "detail",
                                          "worker"))


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message: the result, and what went where."""

    item: Claimed
    result: SendResult
    at: datetime
    sent: OutgoingMessage  # the message as it went (its email rendering, when rerouted)
    provider: str | None = None
    deferred_until: datetime | None = None  # back in the queue unsent (the provider's rate): no attempt


class Recorder:
    """Commits outcomes in groups (see the module's docstring).  ``sending`` is kept by the sender:
    the sends with a provider now, whose outcomes a group may wait for; ``line_paused`` (store →
    until) is shared with it, and the stores in ``unsaved_pauses`` are written with the next group."""

    def __init__(self, engine: AsyncEngine, clock: Clock, policy: RetryPolicy, worker_id: str, group: int,
                 group_wait: float, line_paused: dict[int, datetime]) -> None:
        self.engine = engine
        self.clock = clock
        self.policy = policy
        self.worker_id = worker_id
        self.group = group
        self.group_wait = group_wait
        self.line_paused = line_paused
        self.unsaved_pauses: set[int] = set()
        self.sending = 0
        self._pending: list[Outcome] = []  # known, not yet committed
        self._group: asyncio.Future[None] | None = None  # done once the pending outcomes are committed
        self._unwritten: list[asyncio.Future[None]] = []  # groups a failed commit left: done with the next
        self._flusher: asyncio.Future[None] | None = None  # done when the task committing them stops
        self._group_ready = asyncio.Event()  # a group's worth of outcomes waits, or nothing is being sent

    def nothing_sending(self) -> None:
        """A send ended with nothing to record: a group waiting for it need not wait any more."""
        if self.sending == 0:
            self._group_ready.set()

    async def record(self, outcome: Outcome) -> None:
        """Return once ``outcome`` is committed.  The first caller commits group after group until none
        is pending; the others wait for the commit of their group only (not for a lock each: a queue
        of callers taking turns at a lock committed one outcome at a time)."""
        self._pending.append(outcome)
        if self.sending == 0 or len(self._pending) >= self.group or outcome.sent.channel is ChannelKind.SMS:
            self._group_ready.set()
        if self._group is None:
            self._group = asyncio.get_running_loop().create_future()
        group = self._group
        while not group.done():
            if self._flusher is None:
                await self._flush_all()
            else:
                await asyncio.wait((group, self._flusher), return_when=asyncio.FIRST_COMPLETED)

    async def _flush_all(self) -> None:
        flusher = self._flusher = asyncio.get_running_loop().create_future()
        try:
            while self._pending:
                await self._flush()
        finally:
            self._flusher = None
            flusher.set_result(None)  # a caller still waiting commits what is left (after a failure)

    async def _flush(self) -> None:
        """Write every outcome that came in meanwhile: one transaction, one statement per table."""
        await self._fill_group()
        batch, self._pending = self._pending, []
        group, self._group = self._group, None
        messages = [self._message_row(o) for o in batch]
        attempts = [{
            "store_id_": o.item.store_id, "outbox_id_": o.item.id, "attempt_": o.item.attempt,
            "outcome": _attempt_outcome(o), "code": o.result.code,
            "detail": _detail(o)[:2000], "finished_at": o.at,
        } for o in batch]
        paused, self.unsaved_pauses = self.unsaved_pauses, set()
        try:
            async with self.engine.begin() as conn:
                await execute_many(conn, _RECORD_MESSAGE, messages)
                await execute_many(conn, _RECORD_ATTEMPT, attempts)
                for store_id in sorted(paused):
                    await update_prefs(conn, store_id, self.clock.now(),
                                       line_paused_until=self.line_paused[store_id])
        except BaseException:
            self._pending[:0] = batch  # not written: the next flush tries them again
            self.unsaved_pauses |= paused
            if group is not None:
                self._unwritten.append(group)
            raise
        # Done here and now, not by a callback: a waiter that finds nothing pending must find its group done.
        written, self._unwritten = [*self._unwritten, *([group] if group is not None else [])], []
        for done in written:
            done.set_result(None)

    async def _fill_group(self) -> None:
        """Wait (at most ``group_wait``) for the outcomes of the sends still out to join this commit."""
        wait = self.group_wait
        while wait > 0 and self.sending and len(self._pending) < self.group:
            if any(o.sent.channel is ChannelKind.SMS for o in self._pending):
                return  # an SMS holds its sending slot until it is recorded: no waiting for others
            self._group_ready.clear()
            started = asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(wait):
                    await self._group_ready.wait()
            except TimeoutError:
                return
            wait -= asyncio.get_running_loop().time() - started

    def _message_row(self, o: Outcome) -> dict[str, Any]:
        status, next_at, error = self._next(o)
        return {
            "outbox_id": o.item.id, "worker": self.worker_id, "status": status, "next_attempt_at": next_at,
            "last_error": error, "claimed_until": None, "claimed_by": None,
            "sent_at": o.at if status == "sent" else None, "undo": 1 if o.deferred_until is not None else 0,
            "channel": o.sent.channel.value, "recipient": o.sent.recipients[0] if o.sent.recipients else "",
            "provider": o.provider, "provider_message_id": o.result.provider_id,
        }

    def _next(self, o: Outcome) -> tuple[str, datetime, str | None]:
        if o.item.blocked:
            return "skipped", o.at, o.item.blocked
        result = o.result
        if o.deferred_until is not None:
            return "queued", o.deferred_until, result.detail
        if result.outcome is SendOutcome.SENT:
            return "sent", o.at, None
        decision = self.policy.decide(o.item.attempt, result)
        error = f"{result.code or ''} {result.detail}".strip()
        if decision.retry:
            return "queued", o.at + timedelta(seconds=decision.delay_seconds), error
        return "failed", o.at, error


def _attempt_outcome(o: Outcome) -> str:
    if o.item.blocked:
        return "skipped"
    if o.deferred_until is not None:
        return "deferred"
    return o.result.outcome.value


def _detail(o: Outcome) -> str:
    detail = o.result.detail
    if o.provider and not o.item.blocked:
        detail = f"{o.provider}: {detail}"
    if o.sent is not o.item.message and o.sent.channel is not o.item.message.channel:
        detail = f"by {o.sent.channel.value} instead of {o.item.message.channel.value}; {detail}"
    return detail

"""Delivery: claim queued outbox messages with a lease, check what may go out, hand each to the
provider its channel routes to (``channels.registry``), and record every attempt.

* **Outcomes are durable before their slot is reused.**  A send holds one of ``concurrency`` slots
  while it is with the provider, and one of ``concurrency + unrecorded`` slots until its outcome is
  committed (a group commit, one statement per table: it waits up to ``group_wait`` for the sends
  still out, or until ``unrecorded`` outcomes are waiting, since a commit costs about as much CPU
  as twenty outcomes in it).  So after a crash at any moment at most that many messages can look
  unsent although the provider took them; each goes again with its original Message-ID / LINE
  retry key, which the provider can drop.  An SMS has no such key (Twilio and Alibaba Cloud keep
  none), so an SMS keeps its sending slot until its outcome is committed, and that commit does not
  wait for others: the only SMS that can go twice are those in flight at the crash.
* **Transactional first.**  Each claim takes the due transactional messages of every store before
  any other (oldest first within each), so no store's campaign, however large, holds up another
  store's order confirmation by more than a claim.  (Stores' campaigns among themselves still go
  oldest first, and the scheduler advances due runs oldest first, whatever their flow.)
* **Busy is a delay.**  A provider's 429 pauses that provider for the store for as long as it asked
  (``Retry-After``), the message waits that long, and it never counts towards failing; a store's
  rate (messages per second) keeps under the provider's limit in the first place — a message whose
  turn would come after its lease goes back to the queue unsent, no attempt spent.
* **Failover only when nothing was sent.**  A provider that definitely refused (no connection, 429,
  503, a 4xx from an SMTP server) hands the message to the store's backup provider for that channel;
  one whose answer never came (a timeout) keeps the message, so failover cannot send it twice.
* **Email instead.**  A LINE message carries its email rendering when the customer has an address
  and the flow allows email after LINE: it goes by email when the customer has unfollowed the
  account, when the store's LINE is paused, or when LINE answers that the monthly quota is used up
  (then LINE is paused for the store until the next month, shown on the dashboard).

While one claimed batch is being sent, the next is claimed, so the providers never wait for the
database when there is more to send.  Once ``stop`` is set (the process was told to stop), nothing
more is claimed or handed to a provider: the sends in flight finish and are recorded, and the
claimed messages not yet sent go back to the queue at once (no attempt spent, the attempt on record
as ``deferred``), for this process after a restart or another worker now.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.channels import Channel, RetryPolicy, SendOutcome, SendResult
from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage
from afterorder.channels.registry import ChannelRegistry, Endpoint, Route
from afterorder.channels.setup import load_prefs, next_line_month, update_prefs
from afterorder.clock import Clock
from afterorder.compliance import dkim
from afterorder.compliance.gate import judge
from afterorder.compliance.settings import DkimKey
from afterorder.compliance.suppression import blocked_reason, reasons_for
from afterorder.db.dialect import skip_locked
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import Id, customers, delivery_attempts, outbox, outbox_bodies
from afterorder.db.statements import execute_many, insert_rows, typed_statement
from afterorder.delivery.outbox import FALLBACK_SUFFIX

INTERRUPTED = "worker stopped before the outcome was known"
UNFOLLOWED = "the customer unfollowed the store's LINE account"
LINE_PAUSED = "the store's LINE monthly quota is used up"
MISSING_BODY = "the message's content is missing from the outbox"
FAILOVER_PAUSE = 5.0  # seconds a primary that definitely refused is passed over for its backup

# A flush writes every outcome with one statement per table, straight to the driver (execute_many:
# SQLAlchemy's executemany converted each row's dict again, ~35 µs a row, three rows a message).  A
# message whose lease passed to another worker is not ours to record any more.
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
_STARTED = insert_rows(delivery_attempts, ("store_id", "outbox_id", "attempt", "started_at", "outcome", "detail",
                                           "worker"))


# The claim, built once (it runs for every batch): due messages queued or left by a worker whose
# lease ended, transactional ones first (an order confirmation never waits behind any store's
# campaign: ``ix_outbox_due_category`` finds them however many others are due), then the others;
# oldest first within each.
def _due(*only: ColumnElement[bool]) -> Select[tuple[int, int]]:
    return (select(outbox.c.id, outbox.c.store_id).where(or_(
        and_(outbox.c.status == "queued", outbox.c.next_attempt_at <= bindparam("now"), *only),
        and_(outbox.c.status == "sending", outbox.c.claimed_until < bindparam("now"), *only),
    )).order_by(outbox.c.next_attempt_at).limit(bindparam("batch")))


_PICKS = (_due(outbox.c.category == "transactional"), _due(outbox.c.category != "transactional"))
_PICKS_LOCKED = tuple(pick.with_for_update(skip_locked=True) for pick in _PICKS)
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
_BODIES = select(outbox_bodies.c.store_id, outbox_bodies.c.idempotency_key, outbox_bodies.c.data).where(
    in_keys(outbox_bodies.c.store_id, "stores"),
    in_keys(outbox_bodies.c.idempotency_key, "keys"))
_FOLLOWING = select(customers.c.store_id, customers.c.id, customers.c.line_following).where(
    in_keys(customers.c.store_id, "stores"), in_keys(customers.c.id, "ids"))
_DEFER = outbox.update().where(outbox.c.id == bindparam("outbox_id")).values(
    status="queued", attempts=outbox.c.attempts - 1, next_attempt_at=bindparam("until"), claimed_by=None,
    claimed_until=None, last_error=bindparam("why"))


STOPPING = "given back unsent: the worker was stopping"


@dataclass(frozen=True)
class DeliverySettings:
    worker_id: str
    lease: timedelta = timedelta(seconds=60)
    batch: int = 500  # messages claimed at once
    concurrency: int = 8  # sends in flight
    claims_per_run: int = 4  # ``run_due`` claims again (while the last claim was full) up to this many times
    # outcomes known but not yet committed, beyond the sends in flight (one commit's worth): the most
    # a crash can make look unsent is concurrency + unrecorded.  Too few, and a slow commit holds up
    # sending (16 in all let the end-to-end bench tip into a backlog now and then; 8 + 64 never did)
    unrecorded: int = 64
    # seconds an outcome may wait for the sends still out, to be committed with theirs (0: at once)
    group_wait: float = 0.02

    @property
    def resend_bound(self) -> int:
        """At most this many messages can go again after a crash at any moment."""
        return self.concurrency + self.group

    @property
    def group(self) -> int:
        """Outcomes committed together at most before waiting stops (one commit's worth)."""
        return max(self.unrecorded, 1)


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


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message: the result, and what went where."""

    item: Claimed
    result: SendResult
    at: datetime
    sent: OutgoingMessage  # the message as it went (its email rendering, when rerouted)
    provider: str | None = None
    deferred_until: datetime | None = None  # back in the queue unsent (the provider's rate): no attempt


def _wants(channels: Channel | ChannelRegistry) -> ChannelRegistry:
    return channels if isinstance(channels, ChannelRegistry) else ChannelRegistry.of(channels)


class Delivery:
    def __init__(self, engine: AsyncEngine, channels: Channel | ChannelRegistry, clock: Clock, policy: RetryPolicy,
                 settings: DeliverySettings, stop: asyncio.Event | None = None) -> None:
        """``channels``: the registry of each store's providers; a single channel sends every email.
        ``stop``: set when the process stops; claimed messages not yet sent are given back."""
        self.engine = engine
        self.stop = stop or asyncio.Event()
        self.registry = _wants(channels)
        self.clock = clock
        self.policy = policy
        self.settings = settings
        self._pending: list[Outcome] = []  # known, not yet committed
        self._group: asyncio.Future[None] | None = None  # done once the pending outcomes are committed
        self._unwritten: list[asyncio.Future[None]] = []  # groups a failed commit left: done with the next
        self._flusher: asyncio.Future[None] | None = None  # done when the task committing them stops
        self._sending = 0  # sends with a provider now
        self._group_ready = asyncio.Event()  # a group's worth of outcomes waits, or nothing is being sent
        self._routes: dict[tuple[int, ChannelKind], Route | None] = {}
        self._line_paused: dict[int, datetime] = {}  # store → LINE paused until (monthly quota)
        self._unsaved_pauses: set[int] = set()  # paused here, not yet written to the store's settings

    async def claim(self) -> list[Claimed]:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            picked: list[Any] = []
            for pick in _PICKS_LOCKED if skip_locked(conn) else _PICKS:
                if len(picked) < self.settings.batch:
                    picked += (await conn.execute(pick, {"now": now, "batch": self.settings.batch - len(picked)})).all()
            if not picked:
                return []
            ids = [row.id for row in picked]
            await conn.execute(_INTERRUPTED, {"stores": sorted({row.store_id for row in picked}), "ids": ids,
                                              "now": now})
            rows = (await conn.execute(_CLAIM, {"ids": ids, "worker": self.settings.worker_id,
                                                "until": now + self.settings.lease})).all()
            position = {id_: n for n, id_ in enumerate(ids)}  # transactional, then oldest first, as picked
            rows = sorted(rows, key=lambda r: position[r.id])
            verdicts, settings = await judge(conn, rows, now)
            suppressed = await reasons_for(conn, [(r.store_id, r.recipient) for r in rows])
            refused = {r.id: reason for r in rows if (reason := blocked_reason(
                r.category, suppressed.get((r.store_id, r.recipient), set()))) is not None}
            deferred = [r for r in rows if verdicts[r.id].defer_until is not None and r.id not in refused]
            if deferred:  # quiet hours: back in the queue until they end; that was no attempt
                await conn.execute(_DEFER, [{"outbox_id": r.id, "until": verdicts[r.id].defer_until,
                                             "why": f"deferred: quiet hours until {verdicts[r.id].defer_until}"}
                                            for r in deferred])
            rows = [r for r in rows if r not in deferred]
            bodies = await self._bodies(conn, rows)
            unfollowed = await self._unfollowed(conn, rows)
            await self._read_routes(conn, rows, now)
            if rows:
                await execute_many(conn, _STARTED, [
                    {"store_id": r.store_id, "outbox_id": r.id, "attempt": r.attempts, "started_at": now,
                     "outcome": "started", "detail": "", "worker": self.settings.worker_id} for r in rows
                ])
        return [self._claimed(r, bodies, refused.get(r.id) or verdicts[r.id].blocked,
                              UNFOLLOWED if (r.store_id, r.customer_id) in unfollowed and r.channel == "line"
                              else None, now, settings[r.store_id].dkim) for r in rows]

    def _claimed(self, r: Any, bodies: dict[tuple[int, str], str], blocked: str | None, reroute: str | None,
                 now: datetime, key: DkimKey | None) -> Claimed:
        channel = ChannelKind(r.channel)
        body = bodies.get((r.store_id, r.idempotency_key))
        if body is None:  # never sent empty: a row written without its content is refused
            blocked = blocked or MISSING_BODY
        message = OutgoingMessage(r.message_id, r.envelope_from, (r.recipient,), (body or "").encode("utf-8"),
                                  channel, r.category, r.template)
        fallback_body = bodies.get((r.store_id, r.idempotency_key + FALLBACK_SUFFIX)) if r.fallback_to else None
        fallback = (OutgoingMessage(r.message_id, r.envelope_from, (r.fallback_to,), fallback_body.encode("utf-8"),
                                    ChannelKind.EMAIL, r.category, r.template) if fallback_body is not None else None)
        return Claimed(r.id, r.store_id, r.attempts, message, blocked, now + self.settings.lease / 2, key,
                       fallback, reroute)

    @staticmethod
    async def _bodies(conn: AsyncConnection, rows: list[Any]) -> dict[tuple[int, str], str]:
        if not rows:
            return {}
        keys = [r.idempotency_key for r in rows] + [r.idempotency_key + FALLBACK_SUFFIX for r in rows if r.fallback_to]
        return {(b.store_id, b.idempotency_key): b.data for b in await conn.execute(_BODIES, {
            "stores": sorted({r.store_id for r in rows}), "keys": keys})}

    @staticmethod
    async def _unfollowed(conn: AsyncConnection, rows: list[Any]) -> set[tuple[int, int]]:
        """(store, customer) of LINE messages whose customer unfollowed the account since it was queued."""
        line = [r for r in rows if r.channel == "line" and r.customer_id is not None]
        if not line:
            return set()
        found = await conn.execute(_FOLLOWING, {"stores": sorted({r.store_id for r in line}),
                                                "ids": sorted({r.customer_id for r in line})})
        return {(f.store_id, f.id) for f in found if f.line_following is False}

    async def _read_routes(self, conn: AsyncConnection, rows: list[Any], now: datetime) -> None:
        keys = {(r.store_id, ChannelKind(r.channel)) for r in rows}
        keys |= {(r.store_id, ChannelKind.EMAIL) for r in rows if r.fallback_to}
        self._routes.update(await self.registry.routes(conn, keys))
        line_stores = {r.store_id for r in rows if r.channel == "line"}
        if line_stores:
            for store_id, prefs in (await load_prefs(conn, line_stores)).items():
                if prefs.line_paused(now) and prefs.line_paused_until is not None:
                    self._line_paused[store_id] = prefs.line_paused_until
                else:
                    self._line_paused.pop(store_id, None)

    async def run_due(self) -> int:
        """Claim due messages and send them with up to ``concurrency`` in flight; returns how many were
        handled.  While a full claim is being sent the next one is claimed (at most ``claims_per_run``)."""
        gate = asyncio.Semaphore(self.settings.concurrency)
        unrecorded = asyncio.Semaphore(self.settings.resend_bound)
        low = asyncio.Event()
        waiting = 0  # claimed, not yet handed to a provider
        handled = 0
        tasks: list[asyncio.Task[None]] = []

        def dequeued() -> None:
            nonlocal waiting
            waiting -= 1
            if waiting <= self.settings.batch // 2:
                low.set()

        async def one(item: Claimed) -> None:
            async with unrecorded:  # held until the outcome is committed
                if item.blocked:
                    dequeued()
                    outcome: Outcome | None = Outcome(item, SendResult(SendOutcome.PERMANENT, None, item.blocked),
                                                      self.clock.now(), item.message)
                else:
                    async with gate:
                        dequeued()
                        if self.stop.is_set():
                            await self._record(self._given_back(item))
                            return
                        self._sending += 1
                        try:
                            outcome = await self._deliver(item)
                        finally:
                            self._sending -= 1
                        if outcome is not None and outcome.sent.channel is ChannelKind.SMS:
                            await self._record(outcome)  # no idempotency key: recorded before the slot is free
                            return
                if outcome is not None:
                    await self._record(outcome)
                elif self._sending == 0:
                    self._group_ready.set()

        try:
            for _ in range(max(self.settings.claims_per_run, 1)):
                if self.stop.is_set():
                    break
                claimed = await self.claim()
                handled += len(claimed)
                waiting += len(claimed)
                low.clear()
                tasks.extend(asyncio.create_task(one(item)) for item in claimed)
                if len(claimed) < self.settings.batch:
                    break  # that was all that is due now
                await low.wait()  # half of it has gone to a provider: claim the next while the rest goes
        finally:
            if tasks:
                await asyncio.gather(*tasks)
        return handled

    # ---- one message --------------------------------------------------------------------------

    def _given_back(self, item: Claimed) -> Outcome:
        """``item`` back in the queue unsent, due now: the process is stopping."""
        now = self.clock.now()
        return Outcome(item, SendResult(SendOutcome.TEMPORARY, None, STOPPING), now, item.message, deferred_until=now)

    async def _deliver(self, item: Claimed) -> Outcome | None:
        """Send ``item`` through its route (or its email rendering through email's); None when its
        lease is too short to start now (it comes back when the lease ends)."""
        if self.clock.now() >= item.send_by:
            return None
        message, why_not = item.message, item.reroute or self._line_pause_reason(item)
        route = self._routes.get((item.store_id, message.channel))
        if route is None and why_not is None:
            why_not = f"the store has no {message.channel.value} provider set up"
        if why_not is not None:
            if item.fallback is None and why_not == LINE_PAUSED:  # waits for the quota: no attempt spent
                return Outcome(item, SendResult(SendOutcome.TEMPORARY, None, why_not), self.clock.now(), message,
                               deferred_until=self._line_paused[item.store_id])
            if item.fallback is None:
                return Outcome(item, SendResult(SendOutcome.PERMANENT, None, why_not), self.clock.now(), message)
            message, route = item.fallback, self._routes.get((item.store_id, ChannelKind.EMAIL))
            if route is None:
                return Outcome(item, SendResult(SendOutcome.TEMPORARY, None, "no email provider"), self.clock.now(),
                               message)
        if route is None:
            return Outcome(item, SendResult(SendOutcome.PERMANENT, None, "no route"), self.clock.now(), message)
        outcome = await self._through(item, route, message)
        if (outcome.result.busy is Busy.QUOTA and message.channel is ChannelKind.LINE
                and outcome.deferred_until is None):
            self._line_paused[item.store_id] = next_line_month(self.clock.now())
            self._unsaved_pauses.add(item.store_id)
            email = self._routes.get((item.store_id, ChannelKind.EMAIL))
            if item.fallback is not None and email is not None:
                outcome = await self._through(item, email, item.fallback)
        return outcome

    def _line_pause_reason(self, item: Claimed) -> str | None:
        until = self._line_paused.get(item.store_id)
        if item.message.channel is ChannelKind.LINE and until is not None and self.clock.now() < until:
            return LINE_PAUSED
        return None

    async def _through(self, item: Claimed, route: Route, message: OutgoingMessage) -> Outcome:
        """Send through the route's primary; through its backup when the primary definitely refused
        (or is being passed over after refusing)."""
        endpoints = [route.primary] if route.backup is None else (
            [route.backup] if route.primary.bucket.paused_for > 0 else [route.primary, route.backup])
        outcome: Outcome | None = None
        for endpoint in endpoints:
            outcome = await self._send(item, endpoint, message)
            result = outcome.result
            refused = result.outcome is SendOutcome.TEMPORARY and not result.unknown and outcome.deferred_until is None
            if not refused:
                return outcome
            if endpoint is route.primary and route.backup is not None:
                endpoint.bucket.pause(result.retry_after or FAILOVER_PAUSE)
        assert outcome is not None
        return outcome

    async def _send(self, item: Claimed, endpoint: Endpoint, message: OutgoingMessage) -> Outcome:
        wait = endpoint.bucket.reserve()
        now = self.clock.now()
        room = (item.send_by - now).total_seconds()
        if wait > 0 and wait >= room:  # its turn comes after its lease: back in the queue, no attempt spent
            endpoint.bucket.give_back()
            until = now + timedelta(seconds=wait)
            detail = f"{endpoint.provider}: waiting for the store's rate or the provider's delay"
            return Outcome(item, SendResult(SendOutcome.TEMPORARY, None, detail), now, message, endpoint.provider,
                           until)
        if wait > 0:
            await asyncio.sleep(wait)
        if message.channel is ChannelKind.EMAIL and item.dkim is not None:  # ~1-2 ms of RSA: off the event loop
            message = replace(message, data=await asyncio.to_thread(dkim.sign, message.data, item.dkim,
                                                                     self.clock.now()))
        result = await endpoint.channel.send(message)
        if result.busy is not None and result.retry_after:
            endpoint.bucket.pause(result.retry_after)
        return Outcome(item, result, self.clock.now(), message, endpoint.provider)

    # ---- recording ----------------------------------------------------------------------------

    async def _record(self, outcome: Outcome) -> None:
        """Return once ``outcome`` is committed.  The first caller commits group after group until none
        is pending; the others wait for the commit of their group only (not for a lock each: a queue
        of callers taking turns at a lock committed one outcome at a time)."""
        self._pending.append(outcome)
        if self._sending == 0 or len(self._pending) >= self.settings.group or outcome.sent.channel is ChannelKind.SMS:
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
        paused, self._unsaved_pauses = self._unsaved_pauses, set()
        try:
            async with self.engine.begin() as conn:
                await execute_many(conn, _RECORD_MESSAGE, messages)
                await execute_many(conn, _RECORD_ATTEMPT, attempts)
                for store_id in sorted(paused):
                    await update_prefs(conn, store_id, self.clock.now(),
                                       line_paused_until=self._line_paused[store_id])
        except BaseException:
            self._pending[:0] = batch  # not written: the next flush tries them again
            self._unsaved_pauses |= paused
            if group is not None:
                self._unwritten.append(group)
            raise
        # Done here and now, not by a callback: a waiter that finds nothing pending must find its group done.
        written, self._unwritten = [*self._unwritten, *([group] if group is not None else [])], []
        for done in written:
            done.set_result(None)

    async def _fill_group(self) -> None:
        """Wait (at most ``group_wait``) for the outcomes of the sends still out to join this commit."""
        wait = self.settings.group_wait
        while wait > 0 and self._sending and len(self._pending) < self.settings.group:
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
            "outbox_id": o.item.id, "worker": self.settings.worker_id, "status": status, "next_attempt_at": next_at,
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

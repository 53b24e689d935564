"""Delivery: claim queued outbox messages with a lease, check what may go out, hand each to the
provider its channel routes to (``channels.registry``), and record every attempt.

* **Outcomes are durable before their slot is reused.**  A send holds one of ``concurrency`` slots
  while it is with the provider, and one of ``concurrency + unrecorded`` slots until its outcome is
  committed (a group commit: ``delivery/recording.py``).  So after a crash at any moment at most
  that many messages can look unsent although the provider took them; each goes again with its
  original Message-ID / LINE retry key, which the provider can drop.  An SMS has no such key
  (Twilio and Alibaba Cloud keep none), so an SMS keeps its sending slot until its outcome is
  committed, and that commit does not wait for others: the only SMS that can go twice are those in
  flight at the crash.
* **Turns between stores, transactional first.**  Each claim gives every store with due messages
  its share, transactional ones of every store before any marketing one (``delivery/claims.py``),
  and they are sent in that order: no store's campaign, however large, holds up another store's
  order confirmation by more than one claim's sending.
* **Busy is a delay.**  A provider's 429 pauses that provider for the store for as long as it asked
  (``Retry-After``), the message waits that long, and it never counts towards failing; a store's
  rate (messages per second) keeps under the provider's limit in the first place.  A message that
  has to wait for its store's rate waits without a sending slot, and one whose turn would come
  later than ``throttle_wait`` goes back to the queue unsent, no attempt spent, due when its turn
  comes: a throttled store never holds up the others' sends.
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

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.channels import Channel, RetryPolicy, SendOutcome, SendResult
from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage
from afterorder.channels.rate import Bucket, TokenBucket
from afterorder.channels.registry import ChannelRegistry, Endpoint, Route
from afterorder.channels.setup import load_prefs, next_line_month
from afterorder.clock import Clock
from afterorder.compliance import dkim
from afterorder.compliance.gate import judge
from afterorder.compliance.suppression import blocked_reason, reasons_for
from afterorder.db.statements import execute_many
from afterorder.delivery.claims import UNFOLLOWED, Claimed, bodies, claimed, defer, take_due, unfollowed
from afterorder.delivery.recording import STARTED, Outcome, Recorder
from afterorder.keys.sealing import SealError
from afterorder.keys.stored import DkimKey, open_dkim

LINE_PAUSED = "the store's LINE monthly quota is used up"
FAILOVER_PAUSE = 5.0  # seconds a primary that definitely refused is passed over for its backup


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
    # seconds a message may wait for its store's rate while holding a sending slot: one whose turn
    # comes later goes back to the queue (no attempt spent), due at its turn, so a throttled store
    # holds up the other stores' sends by this much at most
    throttle_wait: float = 0.25

    @property
    def resend_bound(self) -> int:
        """At most this many messages can go again after a crash at any moment."""
        return self.concurrency + self.group

    @property
    def group(self) -> int:
        """Outcomes committed together at most before waiting stops (one commit's worth)."""
        return max(self.unrecorded, 1)


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
        self._routes: dict[tuple[int, ChannelKind], Route | None] = {}
        self._line_paused: dict[int, datetime] = {}  # store → LINE paused until (monthly quota)
        self._dkim_opened: dict[str, DkimKey] = {}  # stored (sealed) DKIM key → opened
        self._put_back: dict[TokenBucket, datetime] = {}  # a store's rate → the last turn a message was given
        self.recorder = Recorder(engine, clock, policy, settings.worker_id, settings.group, settings.group_wait,
                                 self._line_paused)

    async def claim(self) -> list[Claimed]:
        """Claim due messages (in turns between stores, transactional first: ``delivery/claims.py``),
        with what they are sent with; in the order they are to be sent."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            rows = await take_due(conn, self.settings.worker_id, self.settings.batch, now + self.settings.lease, now)
            if not rows:
                return []
            verdicts, settings = await judge(conn, rows, now)
            suppressed = await reasons_for(conn, [(r.store_id, r.recipient) for r in rows])
            refused = {r.id: reason for r in rows if (reason := blocked_reason(
                r.category, suppressed.get((r.store_id, r.recipient), set()))) is not None}
            # quiet hours: back in the queue until they end; that was no attempt
            quiet = {r.id: until for r in rows if (until := verdicts[r.id].defer_until) is not None
                     and r.id not in refused}
            await defer(conn, [r for r in rows if r.id in quiet], quiet)
            rows = [r for r in rows if r.id not in quiet]
            found = await bodies(conn, rows)
            gone = await unfollowed(conn, rows)
            await self._read_routes(conn, rows, now)
            if rows:
                await execute_many(conn, STARTED, [
                    {"store_id": r.store_id, "outbox_id": r.id, "attempt": r.attempts, "started_at": now,
                     "outcome": "started", "detail": "", "worker": self.settings.worker_id} for r in rows
                ])
        return [claimed(r, found, refused.get(r.id) or verdicts[r.id].blocked,
                        UNFOLLOWED if (r.store_id, r.customer_id) in gone and r.channel == "line" else None,
                        now + self.settings.lease / 2, settings[r.store_id].dkim) for r in rows]

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
                            await self.recorder.record(self._given_back(item))
                            return
                        self.recorder.sending += 1
                        try:
                            outcome = await self._deliver(item)
                        finally:
                            self.recorder.sending -= 1
                        if outcome is not None and outcome.sent.channel is ChannelKind.SMS:
                            await self.recorder.record(outcome)  # no idempotency key: recorded before the slot is free
                            return
                if outcome is not None:
                    await self.recorder.record(outcome)
                else:
                    self.recorder.nothing_sending()

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

    def _turn(self, bucket: Bucket, earliest: datetime) -> datetime:
        """When a message put back for ``bucket``'s rate is due again: its turn after those put back
        before it (one ``interval`` apart), so they come back at the rate they can go, not all at once."""
        if isinstance(bucket, TokenBucket):
            last = self._put_back.get(bucket)
            if last is not None and last + timedelta(seconds=bucket.interval) > earliest:
                earliest = last + timedelta(seconds=bucket.interval)
            self._put_back[bucket] = earliest
        return earliest

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
            self.recorder.unsaved_pauses.add(item.store_id)
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
        key = None
        if message.channel is ChannelKind.EMAIL and item.dkim is not None:
            try:
                key = open_dkim(item.dkim, self.registry.sealer, self._dkim_opened)
            except SealError as exc:  # a wrong key: not sent unsigned; it waits for the right key (retried)
                return Outcome(item, SendResult(SendOutcome.TEMPORARY, None, f"DKIM key: {exc}"), self.clock.now(),
                               message, endpoint.provider)
        wait = endpoint.bucket.reserve()
        now = self.clock.now()
        room = (item.send_by - now).total_seconds()
        if wait > 0 and wait >= min(room, self.settings.throttle_wait):  # not now: back in the queue, no attempt
            endpoint.bucket.give_back()
            detail = f"{endpoint.provider}: waiting for the store's rate or the provider's delay"
            return Outcome(item, SendResult(SendOutcome.TEMPORARY, None, detail), now, message, endpoint.provider,
                           self._turn(endpoint.bucket, now + timedelta(seconds=wait)))
        if wait > 0:
            await asyncio.sleep(wait)
        if key is not None:  # ~1-2 ms of RSA: off the event loop
            message = replace(message, data=await asyncio.to_thread(dkim.sign, message.data, key, self.clock.now()))
        result = await endpoint.channel.send(message)
        if result.busy is not None and result.retry_after:
            endpoint.bucket.pause(result.retry_after)
        return Outcome(item, result, self.clock.now(), message, endpoint.provider)

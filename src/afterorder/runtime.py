"""Wiring: the parts one process runs (intake, scheduler, delivery), built from settings, with
their background loops.  ``serve`` and ``worker`` both start one of these."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from types import ModuleType

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.analytics.abtests import settle
from afterorder.audit.retention import DEFAULT_RETENTION_DAYS, prune_audit
from afterorder.channels import Channel, RetryPolicy, SmtpChannel
from afterorder.channels.registry import ChannelRegistry
from afterorder.clock import Clock
from afterorder.content import Renderer
from afterorder.content.overrides import StoreRenderers
from afterorder.db.customer_stats import refresh_stale_rfm
from afterorder.db.database import open_engine, open_reader
from afterorder.db.migrate import upgrade
from afterorder.db.outage import Outage, database_lost
from afterorder.db.sealed_secrets import seal_at_start
from afterorder.db.statistics import analyze_new_tables
from afterorder.db.stores import list_stores
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.flows.catalog import FlowCatalog, refused_flows
from afterorder.flows.composers import composer_for
from afterorder.flows.scheduler import Scheduler, SchedulerSettings, run_loop
from afterorder.intake.eccube_fetch import EccubeFetcher
from afterorder.intake.ecwid_fetch import EcwidFetcher
from afterorder.intake.horizon import Horizon
from afterorder.intake.limits import MAX_BODY_BYTES
from afterorder.intake.pipeline import Intake
from afterorder.keys.sealing import Sealer, sealer_for
from afterorder.keys.signers import StoreSigners
from afterorder.order_page.note_webhook import NoteWebhookSender
from afterorder.privacy.double_opt_in import queue_confirmations

log = logging.getLogger(__name__)
STOP_WAIT = 8.0  # seconds the loops get to stop in: within systemd's and the 10 s with room to close


@dataclass(frozen=True)
class RuntimeSettings:
    database_url: str
    smtp_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    flow_dirs: tuple[Path, ...] = ()
    template_dirs: tuple[Path, ...] = ()
    lease_seconds: float = 60.0
    poll_seconds: float = 0.5
    # how often the loops that are mostly idle (Ecwid and EC-CUBE fetches, the stores' webhooks) look when
    # nothing woke them: in a worker started with --poll 0.05 they took 7.6 % of its CPU finding nothing
    side_poll_seconds: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    smtp_pool: int = 4
    # sends in flight at once, over every provider (an SMTP relay takes ``smtp_pool`` of them at a time;
    # LINE and SES need 16-32 in flight for 1,000 messages/s at 5 ms an answer: bench/channels.py)
    delivery_concurrency: int = 32
    worker_id: str = ""
    daily_check_seconds: float = 3600.0
    # The first look waits this long after start, so that refitting does not land on the first minutes
    # of traffic after every restart (SciPy itself is loaded at start: ``start_workers``).
    daily_first_seconds: float = 300.0
    ab_check_seconds: float = 300.0  # how often running A/B tests are checked for a winner
    # helper processes that render and build the messages (0: in this process); ``serve`` and
    # ``worker`` use one, so rendering runs on a second core
    render_processes: int = 0
    # scheduler loops per process: while one waits (for the database, for a helper to render) another
    # claims and reads the next runs
    scheduler_loops: int = 2
    statistics_check_seconds: float = 5.0  # PostgreSQL: how often to look for tables never analyzed
    # the key(s) sealing the stores' provider credentials (None: AFTERORDER_SECRET_KEY, else the key file)
    secret_key: str | None = field(default=None, repr=False)
    # limits at the door (afterorder.intake.limits): the largest request body, and how far ahead of
    # this clock the times in events may be
    max_body_bytes: int = MAX_BODY_BYTES
    horizon: Horizon = field(default_factory=Horizon)
    audit_retention_days: int = DEFAULT_RETENTION_DAYS  # audit log entries older than this are pruned (daily jobs)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Runtime:
    def __init__(self, settings: RuntimeSettings, clock: Clock, *, engine: AsyncEngine | None = None,
                 channel: Channel | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = engine or open_engine(settings.database_url)
        self.reader = open_reader(self.engine)
        self.catalog = FlowCatalog.load(list(settings.flow_dirs))
        self.renderer = Renderer(list(settings.template_dirs))
        self.renderers = StoreRenderers(self.renderer)
        worker = settings.worker_id or default_worker_id()
        lease = timedelta(seconds=settings.lease_seconds)
        self.runs_due = asyncio.Event()
        self.mail_due = asyncio.Event()
        self.stop = asyncio.Event()
        self.outage = Outage(log)  # the loops' one voice while the database is away
        self.intake = Intake(self.engine, self.catalog, clock, on_change=self.runs_due.set)
        self.ecwid_due = asyncio.Event()  # an Ecwid webhook was recorded: fetch what it names
        self.ecwid = EcwidFetcher(self.engine, self.intake, clock, lambda: self.sealer, lease=lease)
        self.webhooks_due = asyncio.Event()  # a delivery note was saved: post the store's webhook
        self.signers = StoreSigners(lambda: self.sealer)  # the stores' link signing keys, opened once each
        self.webhooks = NoteWebhookSender(self.engine, clock, self.signers, lease=lease)
        self.eccube_due = asyncio.Event()  # an EC-CUBE notice was recorded: fetch what it names
        self.eccube = EccubeFetcher(self.engine, self.intake, clock, lambda: self.sealer, lease=lease)
        self.composer = composer_for(settings.render_processes)
        self._sealer: Sealer | None = None
        self.scheduler = Scheduler(self.engine, self.catalog, self.renderer, clock,
                                   SchedulerSettings(worker_id=worker, base_url=settings.base_url, lease=lease),
                                   renderers=self.renderers, reader=self.reader, composer=self.composer,
                                   stop=self.stop, signers=self.signers)
        self._channel = channel
        self.registry = ChannelRegistry(lambda: self.sealer, server_relay=self.channel, base_url=settings.base_url)
        self.delivery: Delivery | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._predictions: ModuleType | None = None  # afterorder.segments.predictions, loaded by start_workers

    @property
    def sealer(self) -> Sealer:
        """Seals and opens the stores' provider credentials; made on first use (the key file, when no
        key is configured, is made only when needed).  ``SealError`` if the key is unusable."""
        if self._sealer is None:
            self._sealer = sealer_for(self.settings.database_url, self.settings.secret_key)
        return self._sealer

    async def migrate(self) -> None:
        """The schema brought up to date, then secrets stored in plain text by older versions sealed
        (``afterorder.keys.stored``: a migration cannot know the key)."""
        await upgrade(self.engine)
        await seal_at_start(self.engine, lambda: self.sealer)

    def channel(self) -> Channel:
        if self._channel is None:
            if not self.settings.smtp_url:
                raise RuntimeError("no mail server configured: pass --smtp smtp://host:port or set AFTERORDER_SMTP_URL")
            self._channel = SmtpChannel.from_url(self.settings.smtp_url)
        return self._channel

    async def start_workers(self) -> None:
        """Run the scheduler and delivery loops in the background until ``close``."""
        worker = self.scheduler.settings.worker_id
        await self._report_refused_flows()
        # The daily jobs' SciPy (49 MB resident, 0.5 s of CPU) loads now, before the process takes traffic
        # and before its start-up heap is frozen, not in the middle of it at the first refit: there it
        # was one step of +70 MB and a held event loop in a 10-minute run (bench/latency.py).
        self._predictions = await asyncio.to_thread(import_module, "afterorder.segments.predictions")
        await self.composer.start()
        self.delivery = Delivery(self.engine, self.registry, self.clock, self.settings.retry,
                                 DeliverySettings(worker_id=worker,
                                                  lease=timedelta(seconds=self.settings.lease_seconds),
                                                  concurrency=self.settings.delivery_concurrency),
                                 stop=self.stop)

        async def schedule_more() -> int:
            found = await self.scheduler.run_due()
            if found:
                self.mail_due.set()
            return found

        async def schedule_step() -> int:  # the first loop also queues double opt-in confirmations
            found = await schedule_more()
            confirmations = await queue_confirmations(self.engine, self.renderer, self.clock.now(),
                                                      self.settings.base_url, self.signers)
            if confirmations:
                self.mail_due.set()
            return found + confirmations

        delivery = self.delivery
        poll = self.settings.poll_seconds
        side = max(poll, self.settings.side_poll_seconds)  # an event in this process wakes them at once
        self._tasks = [
            asyncio.create_task(run_loop(schedule_step, self.runs_due, self.stop, poll, self.outage)),
            *(asyncio.create_task(run_loop(schedule_more, self.runs_due, self.stop, poll, self.outage))
              for _ in range(self.settings.scheduler_loops - 1)),
            asyncio.create_task(run_loop(delivery.run_due, self.mail_due, self.stop, poll, self.outage)),
            asyncio.create_task(run_loop(self.ecwid.run_due, self.ecwid_due, self.stop, side, self.outage)),
            asyncio.create_task(run_loop(self.webhooks.run_due, self.webhooks_due, self.stop, side, self.outage)),
            asyncio.create_task(run_loop(self.eccube.run_due, self.eccube_due, self.stop, side, self.outage)),
            asyncio.create_task(self._daily_jobs()),
            asyncio.create_task(self._ab_tests()),
            asyncio.create_task(self._statistics()),
        ]

    async def _report_refused_flows(self) -> None:
        """Say, at start, which flows switched on for a store cannot be sent there (a channel removed
        since): their messages go on the next channel the customer can receive, or are skipped."""
        async with self.engine.connect() as conn:
            for store in await list_stores(conn):
                for problem in await refused_flows(conn, self.catalog, store):
                    log.warning("store %s: %s", store.slug, problem)

    async def _daily_jobs(self) -> None:
        """Jobs that keep derived data fresh once a day per store (RFM scores, predictions) and prune
        what is kept for a while only (the audit log: ``audit.retention``), checked hourly."""
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=self.settings.daily_first_seconds)
            return
        except TimeoutError:
            pass
        assert self._predictions is not None  # start_workers loaded it before starting this job
        refit_stale = self._predictions.refit_stale

        while not self.stop.is_set():
            try:
                pruned = await prune_audit(self.engine, self.clock.now(), self.settings.audit_retention_days)
                if pruned:
                    log.info("pruned %d audit log entries older than %d days", pruned,
                             self.settings.audit_retention_days)
            except Exception as exc:  # tried again next hour; the entries stay meanwhile
                self._failed(exc, "pruning the audit log failed")
            try:
                await refresh_stale_rfm(self.engine, self.clock.now(), reader=self.reader)
            except Exception as exc:  # retried next hour; the old scores stay
                self._failed(exc, "refreshing RFM scores failed")
            try:
                await refit_stale(self.engine, self.clock, self.reader)
            except Exception as exc:  # a failed refit is retried next hour; the old predictions stay
                self._failed(exc, "refitting predictions failed")
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=self.settings.daily_check_seconds)
            except TimeoutError:
                pass

    async def _ab_tests(self) -> None:
        """Record the winner of each running A/B test as soon as it has one (checked every few minutes)."""
        while not self.stop.is_set():
            try:
                await settle(self.engine, self.clock.now())
            except Exception as exc:  # checked again next time; the test keeps splitting meanwhile
                self._failed(exc, "checking A/B tests failed")
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=self.settings.ab_check_seconds)
            except TimeoutError:
                pass

    async def _statistics(self) -> None:
        """PostgreSQL: analyze tables the planner has no statistics for yet (``db.statistics``)."""
        if self.engine.dialect.name != "postgresql":
            return
        while not self.stop.is_set():
            try:
                analyzed = await analyze_new_tables(self.engine)
                if analyzed:
                    log.info("analyzed %s: the planner had no statistics for them yet", ", ".join(analyzed))
            except Exception as exc:  # autovacuum gets there anyway, a little later
                self._failed(exc, "analyzing new tables failed")
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=self.settings.statistics_check_seconds)
            except TimeoutError:
                pass

    def _failed(self, exc: Exception, what: str) -> None:
        """A periodic job's failure: one line when the database is away, else the traceback."""
        if database_lost(exc):
            self.outage.lost(exc)
        else:
            log.exception(what)

    def poke(self) -> None:
        """Something changed outside the loops (e.g. the clock jumped): look for due work now."""
        self.runs_due.set()
        self.mail_due.set()
        self.webhooks_due.set()

    async def close(self) -> None:
        """Stop the loops (the sends in flight finish and are recorded, claimed work not started goes
        back: ``Delivery``, ``Scheduler``), within ``STOP_WAIT`` seconds in all, then close what they used."""
        self.stop.set()
        self.poke()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_WAIT)
            for task in late:  # what it held comes back when its lease ends
                log.warning("a worker loop did not stop within %g s; cancelled", STOP_WAIT)
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.composer.close()
        await self.ecwid.close()
        await self.webhooks.close()
        await self.eccube.close()
        await self.registry.close()  # the stores' providers and the server's relay
        if self._channel is not None:  # the relay, when only test sends used it (closing twice is harmless)
            await self._channel.close()
        if self.reader is not self.engine:
            await self.reader.dispose()
        await self.engine.dispose()

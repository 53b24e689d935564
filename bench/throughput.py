"""Delivery throughput into ``smtp-sink``, in-process, plus the intake and scheduler rates.

1. ``Intake.ingest`` stores ``rendered`` order.placed events (timed: events/s);
2. ``Scheduler.run_due`` advances their runs until none is due, rendering one message each into
   the outbox (timed: runs/s);
3. the outbox is topped up to ``messages`` queued rows with copies of those rendered rows (each with
   its own idempotency key and Message-ID; untimed), because rendering 5,000 messages the real way
   would not fit in the bench's time budget;
4. ``Delivery.run_due`` drains the outbox into the sink (timed: emails/s).
"""

from __future__ import annotations

import cProfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from events import order_placed_event
from sink import SmtpSink
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlcount import SqlCounter, SqlTally

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.clock import SystemClock
from afterorder.db.schema import outbox, outbox_bodies
from afterorder.db.stores import create_store
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.runtime import Runtime, RuntimeSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Phase:
    count: int
    seconds: float
    sql: SqlTally

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def statements_each(self) -> float:
        return self.sql.statements / self.count if self.count else 0.0

    @property
    def sql_share(self) -> float:
        """Fraction of the phase's wall time spent inside SQL statements."""
        return min(self.sql.seconds / self.seconds, 1.0) if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "seconds": round(self.seconds, 3),
                "per_second": round(self.per_second, 1),
                "sql_statements_each": round(self.statements_each, 1),
                "sql_time_share": round(self.sql_share, 3)}


@dataclass(frozen=True)
class ThroughputResult:
    ingest: Phase  # events stored by Intake.ingest
    schedule: Phase  # runs advanced by Scheduler.run_due (each rendered one message into the outbox)
    copied: int  # rendered rows copied to top the outbox up
    queued: int  # outbox rows queued when delivery started
    deliver: Phase  # outbox rows sent by Delivery.run_due
    sink_accepted: int  # what smtp-sink counted meanwhile
    outbox_status: dict[str, int]
    smtp_pool: int
    concurrency: int
    mean_message_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {"ingest": self.ingest.as_json(), "schedule": self.schedule.as_json(), "copied": self.copied,
                "queued": self.queued, "deliver": self.deliver.as_json(), "sink_accepted": self.sink_accepted,
                "outbox_status": self.outbox_status, "smtp_pool": self.smtp_pool,
                "concurrency": self.concurrency, "mean_message_bytes": self.mean_message_bytes}


async def _timed(label: str, profile_dir: Path | None, work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    profiler = cProfile.Profile() if profile_dir else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    try:
        result = await work()
    finally:
        if profiler:
            profiler.disable()
    seconds = time.perf_counter() - started
    if profiler and profile_dir:
        _dump(profiler, profile_dir, label)
    return result, seconds


def _dump(profiler: cProfile.Profile, directory: Path, label: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(directory / f"{label}.prof")


async def _outbox_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
        return {status: int(count) for status, count in rows.all()}


async def _mean_size(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        mean = (await conn.execute(select(func.avg(func.length(outbox_bodies.c.data))))).scalar()
        return int(mean or 0)


async def _top_up(engine: AsyncEngine, target: int, chunk: int = 500) -> int:
    """Copy queued outbox rows until ``target`` are queued; returns how many copies were added."""
    async with engine.begin() as conn:
        originals = [dict(r) for r in (await conn.execute(
            select(outbox).where(outbox.c.status == "queued").order_by(outbox.c.id))).mappings()]
        missing = target - len(originals)
        if not originals or missing <= 0:
            return 0
        copies: list[dict[str, Any]] = []
        for n in range(missing):
            row = dict(originals[n % len(originals)])
            del row["id"]
            row["idempotency_key"] = f"{row['idempotency_key']}:copy{n}"
            row["message_id"] = f"<copy{n}.{row['message_id'].strip('<>')}>"
            copies.append(row)
        bodies = {r.idempotency_key: r.data for r in await conn.execute(
            select(outbox_bodies.c.idempotency_key, outbox_bodies.c.data))}
        copied_bodies = [{"store_id": row["store_id"], "idempotency_key": row["idempotency_key"],
                          "data": bodies[row["idempotency_key"].rsplit(":copy", 1)[0]]} for row in copies]
        for start in range(0, len(copies), chunk):
            await conn.execute(outbox.insert(), copies[start:start + chunk])
            await conn.execute(outbox_bodies.insert(), copied_bodies[start:start + chunk])
    return missing


async def run_throughput(database_url: str, sink: SmtpSink, *, messages: int = 5000, rendered: int = 300,
                         batch: int = 100, smtp_pool: int = 8, label: str = "",
                         profile_dir: Path | None = None,
                         say: Callable[[str], None] = print) -> ThroughputResult:
    clock = SystemClock()
    channel = SmtpChannel(host="127.0.0.1", port=sink.port, pool=smtp_pool)
    settings = RuntimeSettings(database_url=database_url, smtp_url=sink.url, smtp_pool=smtp_pool,
                               worker_id="bench-throughput")
    runtime = Runtime(settings, clock, channel=channel)
    concurrency = settings.delivery_concurrency  # what Runtime.start_workers uses
    try:
        await runtime.migrate()
        async with runtime.engine.begin() as conn:
            store, _key = await create_store(conn, clock.now(), slug="bench-throughput",
                                             name="Bench Outfitters", email_from="shop@bench-store.example")
        sql = SqlCounter(runtime.engine)
        events = [order_placed_event(f"tp{label}", i) for i in range(min(rendered, messages))]

        async def ingest() -> int:
            stored = 0
            for start in range(0, len(events), batch):
                results = await runtime.intake.ingest(store, events[start:start + batch], source="bench")
                stored += sum(1 for r in results if r.status == "stored")
            return stored

        sql.take()
        stored, ingest_s = await _timed(f"{label}-ingest", profile_dir, ingest)
        ingest_phase = Phase(stored, ingest_s, sql.take())
        say(f"  {label}: intake stored {stored} events in {ingest_s:.1f} s "
            f"({ingest_phase.per_second:.0f}/s, {ingest_phase.statements_each:.0f} SQL statements each)")

        async def schedule() -> int:
            advanced = 0
            while found := await runtime.scheduler.run_due():
                advanced += found
            return advanced

        advanced, schedule_s = await _timed(f"{label}-schedule", profile_dir, schedule)
        schedule_phase = Phase(advanced, schedule_s, sql.take())
        say(f"  {label}: scheduler advanced {advanced} runs into the outbox in {schedule_s:.1f} s "
            f"({schedule_phase.per_second:.0f}/s, {schedule_phase.statements_each:.0f} SQL statements each)")

        copied = await _top_up(runtime.engine, messages)
        queued = (await _outbox_counts(runtime.engine)).get("queued", 0)
        size = await _mean_size(runtime.engine)
        delivery = Delivery(runtime.engine, channel, clock, RetryPolicy(base_seconds=1.0),
                            DeliverySettings(worker_id="bench-throughput", lease=timedelta(seconds=60),
                                             concurrency=concurrency))

        async def deliver() -> int:
            handled = 0
            while found := await delivery.run_due():
                handled += found
            return handled

        sink_before = sink.messages()
        sql.take()
        _handled, deliver_s = await _timed(f"{label}-deliver", profile_dir, deliver)
        deliver_sql = sql.take()
        status = await _outbox_counts(runtime.engine)
        sink_accepted = sink.messages() - sink_before
        deliver_phase = Phase(status.get("sent", 0), deliver_s, deliver_sql)
        say(f"  {label}: delivery sent {deliver_phase.count} of {queued} queued in {deliver_s:.1f} s "
            f"({deliver_phase.per_second:.0f}/s; smtp-sink counted {sink_accepted})")
        return ThroughputResult(
            ingest=ingest_phase, schedule=schedule_phase, copied=copied, queued=queued, deliver=deliver_phase,
            sink_accepted=sink_accepted, outbox_status=status, smtp_pool=smtp_pool, concurrency=concurrency,
            mean_message_bytes=size,
        )
    finally:
        await runtime.close()

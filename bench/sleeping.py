"""A million sleeping runs: memory, a new order's confirmation, and how fast they wake together.

Issue 18's item 5, from outside, against a real ``afterorder serve`` delivering into ``smtp-sink``:

1. ``seed`` orders are placed and shipped through the API; each starts a delivery follow-up that
   waits for ``order.delivered`` (at most 10 days).  The bench waits until all of them wait;
2. ``serve`` is stopped and the waiting runs are doubled in SQL until ``runs`` wait (copies point
   at the same orders in the same order, so a claim batch still reads about as many distinct orders
   as it has runs, but the order rows are fewer than in a store that really has a million: the read
   side is a little kinder than reality, and this is said in the output);
3. ``serve`` starts again on that database; its resident memory (with its helper processes) is
   sampled, and ``probes`` new orders are placed one at a time: the time from the POST to the
   sink's counter moving is the confirmation latency with a million runs waiting;
   runs/s = runs advanced (no longer waiting for the
   delivery) ÷ seconds, measured by polling the database;
4. while they wake, a new order is placed every ``--probe-every`` seconds: the same latency, with a
   claim's worth of runs being advanced at every moment.

Never asserts; prints the figures and returns them.  ``python bench/sleeping.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from events import order_placed
from latency import ServeProcess, create_store
from proctree import rss_mb
from sink import SmtpSink
from spy import start as spy_on
from spy import stop as spy_off
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.db.database import open_engine
from afterorder.db.schema import flow_runs

FLOW = "delivery-follow-up"
RUN_COLUMNS = ("store_id", "flow_id", "flow_version", "customer_id", "order_id", "trigger_event_id", "status",
               "step", "anchor_at", "wake_at", "waiting_for", "claimed_until", "claimed_by", "outcome",
               "started_at", "updated_at", "priority")


@dataclass(frozen=True)
class SleepingResult:
    backend: str
    workers: int
    runs_waiting: int
    seed_orders: int
    serve_rss_idle_mb: float  # the serve process alone, resident, with the runs waiting
    serve_rss_peak_mb: float  # the same, at most, while they woke
    rss_idle_mb: float  # serve and its helpers, resident, with the runs waiting
    rss_peak_mb: float  # the same, at most, while they woke
    confirmation_ms: list[float]  # POST of a new order → its mail at the sink, with the runs waiting
    confirmation_waking_ms: list[float]  # the same while they wake (one every probe_every seconds)
    advanced: int
    advance_seconds: float
    runs_per_second: float
    note: str


def _shipped(tag: str, index: int, at: datetime) -> dict[str, Any]:
    return {"id": f"evt-{tag}-ship-{index}", "type": "order.shipped",
            "occurred_at": at.isoformat(timespec="milliseconds"),
            "customer": {"id": f"cust-{tag}-{index}"}, "order": {"id": f"ord-{tag}-{index}"},
            "shipment": {"carrier": "yamato", "tracking_number": f"1234{index:08d}"}}


async def _post(client: httpx.AsyncClient, url: str, key: str, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 1000):
        answer = await client.post(f"{url}/api/v1/events", json={"events": events[start:start + 1000]},
                                   headers={"Authorization": f"Bearer {key}"})
        answer.raise_for_status()


async def _count(engine: AsyncEngine, sql: str, **params: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


_WAITING = ("SELECT count(*) FROM flow_runs WHERE flow_id = :flow AND status = 'waiting' "
            "AND waiting_for IS NOT NULL")


async def _wait_for(what: str, check: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def _sink_moved(sink: SmtpSink, before: int, deadline: float) -> None:
    """Returns once the sink has counted a message more than ``before`` (or at ``deadline``)."""
    while sink.messages() <= before and time.perf_counter() < deadline:  # noqa: ASYNC110 (a file, no event)
        await asyncio.sleep(0.005)


async def _probe(client: httpx.AsyncClient, url: str, key: str, sink: SmtpSink, tag: str) -> float:
    """Places one new order; ms from the POST to its confirmation at the sink (30 s at most)."""
    before = sink.messages()
    started = time.perf_counter()
    await _post(client, url, key, [order_placed(tag, 0)])
    await _sink_moved(sink, before, started + 30)
    return round(1000 * (time.perf_counter() - started), 1)


async def _probe_while(done: asyncio.Event, every: float, client: httpx.AsyncClient, url: str, key: str,
                       sink: SmtpSink, tag: str) -> list[float]:
    """A new order's confirmation every ``every`` seconds until ``done`` (the runs waking send nothing
    themselves: the sink's counter moves for the probe)."""
    latencies: list[float] = []
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), timeout=every)
        except TimeoutError:
            latencies.append(await _probe(client, url, key, sink, f"{tag}{len(latencies)}"))
    return latencies


async def _copy_runs(engine: AsyncEngine, seed: int, runs: int, say: Callable[[str], None]) -> None:
    """Doubles the waiting runs (each round copies those there are, in id order) until ``runs`` wait:
    a few statements in all, each one transaction, so the set-up does not grow with the square."""
    columns = ", ".join(RUN_COLUMNS)
    waiting = seed
    round_ = 1
    started = time.perf_counter()
    while waiting < runs:
        take = min(waiting, runs - waiting)
        async with engine.begin() as conn:
            await conn.execute(text(
                f"INSERT INTO flow_runs (subject_key, {columns}) "
                f"SELECT subject_key || '#' || :round, {columns} FROM flow_runs "
                f"WHERE flow_id = :flow AND status = 'waiting' ORDER BY id LIMIT :take"),
                {"round": str(round_), "flow": FLOW, "take": take})
        waiting += take
        round_ += 1
        say(f"  {waiting:,} waiting runs ({time.perf_counter() - started:.0f} s)")


async def run_sleeping(database_url: str, *, backend: str, runs: int = 1_000_000, seed: int = 2000,
                       workers: int = 0, probes: int = 5, window: float = 900.0, profile: Path | None = None,
                       probe_every: float = 2.0, say: Callable[[str], None] = print) -> SleepingResult:
    engine = open_engine(database_url, pool_size=2)
    sink = await SmtpSink.start()
    tag = f"s{int(time.time())}"
    try:
        key = await create_store(database_url, "bench-sleeping")
        serve = await ServeProcess.start(database_url, sink.url, workers)
        try:
            await serve.ready()
            now = datetime.now(UTC)
            async with httpx.AsyncClient(timeout=120) as client:
                await _post(client, serve.url, key, [order_placed(tag, i, now=now) for i in range(seed)])
                await _post(client, serve.url, key, [_shipped(tag, i, now) for i in range(seed)])

            async def seeded() -> bool:
                return await _count(engine, _WAITING, flow=FLOW) >= seed
            await _wait_for(f"{seed} delivery follow-ups waiting", seeded, 600)
        finally:
            await serve.stop()
        say(f"  {seed:,} orders placed and shipped; copying their waiting runs to {runs:,}")
        await _copy_runs(engine, seed, runs, say)
        waiting = await _count(engine, _WAITING, flow=FLOW)
        serve = await ServeProcess.start(database_url, sink.url, workers)
        try:
            await serve.ready()
            await asyncio.sleep(10)
            idle, own_idle = rss_mb(serve.process.pid), rss_mb(serve.process.pid, children=False)
            say(f"  serve with {waiting:,} runs waiting: {own_idle} MB resident, {idle} MB with its helpers")
            latencies: list[float] = []
            async with httpx.AsyncClient(timeout=30) as client:
                for probe in range(probes):
                    latencies.append(await _probe(client, serve.url, key, sink, f"{tag}p{probe}"))
                    await asyncio.sleep(0.5)
            say(f"  a new order's confirmation with them waiting: {latencies} ms")
            say("  moving every waiting run's timeout to now")
            moved = datetime.now(UTC) - timedelta(seconds=1)  # as if ten days had passed, for all at once
            async with engine.begin() as conn:
                await conn.execute(update(flow_runs).where(
                    flow_runs.c.flow_id == FLOW, flow_runs.c.status == "waiting",
                    flow_runs.c.waiting_for.is_not(None)).values(
                    anchor_at=moved - timedelta(days=10), wake_at=moved))
            say("  moved")
            spy = await spy_on(serve.process.pid, profile) if profile else None
            started = time.perf_counter()
            peak, own_peak, left = idle, own_idle, waiting
            deadline = started + window
            woken = asyncio.Event()
            async with httpx.AsyncClient(timeout=30) as client:
                probing = asyncio.create_task(
                    _probe_while(woken, probe_every, client, serve.url, key, sink, f"{tag}w"))
                while left > 0 and time.perf_counter() < deadline:
                    await asyncio.sleep(1.0)
                    peak = max(peak, rss_mb(serve.process.pid))
                    own_peak = max(own_peak, rss_mb(serve.process.pid, children=False))
                    left = await _count(engine, _WAITING, flow=FLOW)
                seconds = time.perf_counter() - started
                woken.set()
                waking_latencies = await probing
            if spy is not None:
                await spy_off(spy)
                say(f"  profile of the wake (py-spy, collapsed stacks): {profile}")
        finally:
            await serve.stop()
    finally:
        await sink.stop()
        await engine.dispose()
    advanced = waiting - left
    result = SleepingResult(
        backend=backend, workers=workers, runs_waiting=waiting, seed_orders=seed, serve_rss_idle_mb=own_idle,
        serve_rss_peak_mb=own_peak, rss_idle_mb=idle,
        rss_peak_mb=peak, confirmation_ms=latencies, confirmation_waking_ms=waking_latencies, advanced=advanced,
        advance_seconds=round(seconds, 1),
        runs_per_second=round(advanced / seconds, 1) if seconds else 0.0,
        note=f"runs copied from {seed:,} real ones: {runs // max(seed, 1):,} runs per order row")
    say(f"  woke together: {advanced:,} advanced in {seconds:.1f} s = {result.runs_per_second:,.0f} runs/s; "
        f"peak {own_peak} MB serve, {peak} MB with its helpers; a new order's confirmation meanwhile: "
        f"{waking_latencies} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--window", type=float, default=900.0, help="seconds the woken runs are counted for")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy serve while the runs wake")
    parser.add_argument("--probe-every", type=float, default=2.0,
                        help="seconds between new orders placed while the runs wake")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    database = args.database or f"sqlite:///{tempfile.mkdtemp(prefix='afterorder-sleeping-')}/bench.db"
    backend = "postgresql" if database.startswith("postgres") else "sqlite"
    result = asyncio.run(run_sleeping(database, backend=backend, runs=args.runs, seed=args.seed,
                                      workers=args.workers, window=args.window,
                                      profile=args.profile, probe_every=args.probe_every))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()

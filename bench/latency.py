"""Event → SMTP-accepted latency through a real ``afterorder serve`` process (issue 18, item 4).

The bench process runs the receiving SMTP server (a minimal one of its own, ``receiver.py``) and
POSTs single ``order.placed`` events on an open-loop schedule over a fixed number of keep-alive
connections (``make bench``: 200 events/s for 600 s over 8 connections): event i is due at
t0 + i/rate whatever the answers; when all connections are busy it waits for one, and that wait
counts in its latency.  Each event is for a customer of its own, so every mail is matched to its
event by recipient.  Latency = when the mail's DATA arrived − when its event was due.  Events not
delivered by the end of the drain window count as slower than the window (percentiles become lower
bounds).

Measured from outside, through ``/proc``: serve's CPU per event (and its helpers' beside it), and
the resident memory of serve and all its descendant processes, sampled every few seconds; the run is
cut into ten slices (minutes at full size) so drift shows, and memory growth is taken from 20 % of
the run to its end (minute 2 to minute 10 at full size), see ``drift.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from drift import MemoryGrowth, Sampler, SliceFigures, interval, memory_growth, slices
from events import order_placed, recipient
from httpclient import Connection
from percentiles import Percentile, percentile, rank_ms
from proctree import TreeUsage, usage
from receiver import Receiver
from sink import free_port, stop_process
from spy import start as spy_on
from spy import stop as spy_off

AFTERORDER = str(Path(sys.executable).with_name("afterorder"))


@dataclass(frozen=True)
class LatencyResult:
    rate: float
    seconds: float
    sent: int  # measured events (warm-up excluded)
    accepted: int  # of those, answered 2xx
    http_errors: dict[str, int]
    received: int  # of those, mail arrived within the window
    p50: Percentile | None
    p90: Percentile | None
    p99: Percentile | None
    max: Percentile | None
    http_p50_ms: float | None
    http_p99_ms: float | None
    accepted_per_second: float  # measured events answered 2xx per second, first POST to last answer
    mail_per_second: float  # their mails per second, first POST to last arrival
    sender_lag_max_ms: float  # how late the bench itself fired events (its own health)
    connections: int  # POSTs in flight at most; the rest wait for a connection (and that counts)
    connection_wait_p99_ms: float | None
    drain_seconds: float
    serve_cpu_ms_per_event: float | None = None  # the serve process's CPU (user + system) while driven
    serve_cpu_share: float | None = None  # of one core, over the same window
    helpers_cpu_ms_per_event: float | None = None  # serve's descendant processes (rendering), the same way
    bench_cpu_share: float | None = None  # the bench process's own CPU (client and receiver), of one core
    slices: list[SliceFigures] = field(default_factory=list)  # ten, in send order (minutes at 600 s)
    memory: MemoryGrowth | None = None  # serve and its helpers, resident, from 20 % of the run to its end
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def pct(p: Percentile | None) -> dict[str, Any] | None:
            return p.as_json() if p else None

        return {
            "rate": self.rate, "seconds": self.seconds, "sent": self.sent, "accepted": self.accepted,
            "http_errors": self.http_errors, "received": self.received,
            "p50": pct(self.p50), "p90": pct(self.p90), "p99": pct(self.p99), "max": pct(self.max),
            "http_p50_ms": self.http_p50_ms, "http_p99_ms": self.http_p99_ms,
            "accepted_per_second": round(self.accepted_per_second, 1),
            "mail_per_second": round(self.mail_per_second, 1),
            "sender_lag_max_ms": round(self.sender_lag_max_ms, 1), "drain_seconds": self.drain_seconds,
            "connections": self.connections, "connection_wait_p99_ms": self.connection_wait_p99_ms,
            "serve_cpu_ms_per_event": self.serve_cpu_ms_per_event, "serve_cpu_share": self.serve_cpu_share,
            "helpers_cpu_ms_per_event": self.helpers_cpu_ms_per_event, "bench_cpu_share": self.bench_cpu_share,
            "memory": self.memory.as_json() if self.memory else None,
            "slices": [s.as_json() for s in self.slices], "notes": self.notes,
        }


def _rate(times: list[float], start: float) -> float:
    """How many things happened per second between ``start`` and the last of ``times``."""
    if not times:
        return 0.0
    return len(times) / max(max(times) - start, 1e-3)


async def _cli(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(AFTERORDER, *args, stdout=subprocess.PIPE,
                                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"afterorder {args[0]} {args[1]} failed: {err.decode(errors='replace')[-500:]}")
    return out.decode()


async def create_store(database_url: str, slug: str) -> str:
    """``afterorder store add``; returns the API key."""
    out = await _cli("store", "add", slug, "--name", "Bench Outfitters",
                     "--email-from", "shop@bench-store.example", "--database", database_url)
    key: str = json.loads(out)["api_key"]
    return key


class ServeProcess:
    """``afterorder serve`` as a child process, its output kept in a temp file."""

    def __init__(self, port: int, process: asyncio.subprocess.Process, log: Path, workers: int = 0) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self.log = log
        self.workers = workers  # ``ready`` also waits for each to say it started (their start-up is not the run's)

    @classmethod
    async def start(cls, database_url: str, smtp_url: str, workers: int = 0) -> ServeProcess:
        port = free_port()
        fd, name = tempfile.mkstemp(prefix="afterorder-serve-", suffix=".log")
        args = ["serve", "--database", database_url, "--smtp", smtp_url, "--listen", f"127.0.0.1:{port}",
                "--retry-base", "1", "--lease", "30", "--workers", str(workers)]
        with os.fdopen(fd, "wb") as out:
            process = await asyncio.create_subprocess_exec(AFTERORDER, *args, stdout=out, stderr=subprocess.STDOUT,
                                                           stdin=subprocess.DEVNULL)
        return cls(port, process, Path(name), workers)

    def output(self, last: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-last:]
        except OSError:
            return ""

    async def ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"afterorder serve exited ({self.process.returncode}):\n{self.output()}")
                try:
                    healthy = (await client.get(f"{self.url}/healthz")).status_code == 200
                except httpx.HTTPError:
                    healthy = False
                if healthy and self.output(last=1 << 20).count(" started\n") >= self.workers:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"afterorder serve not ready after {timeout}s:\n{self.output()}")
                await asyncio.sleep(0.1)

    def cpu_seconds(self) -> float | None:
        """User + system CPU the serve process alone has used so far (Linux ``/proc``; None elsewhere)."""
        found = usage(self.process.pid)
        return None if found is None else found.own_cpu

    def usage(self) -> TreeUsage | None:
        """CPU and resident memory of serve and its helper processes so far (Linux ``/proc``)."""
        return usage(self.process.pid)

    async def stop(self) -> None:
        await stop_process(self.process, timeout=15)
        self.log.unlink(missing_ok=True)


async def run_latency(database_url: str, *, rate: float = 200.0, seconds: float = 600.0,
                      warmup: float = 1.0, drain: float = 10.0, connections: int = 8, label: str = "",
                      workers: int = 0, profile: Path | None = None,
                      say: Callable[[str], None] = print) -> LatencyResult:
    key = await create_store(database_url, "bench-latency")
    inbox = await Receiver().start()
    serve = await ServeProcess.start(database_url, inbox.url, workers)
    try:
        await serve.ready()
        spy = await spy_on(serve.process.pid, profile) if profile else None
        before, started, bench_before = serve.usage(), time.perf_counter(), time.process_time()
        try:
            result = await _drive(serve.url, key, inbox, rate=rate, seconds=seconds, warmup=warmup, drain=drain,
                                  connections=connections, label=label, watch=serve.usage, say=say)
        finally:
            if spy is not None:
                await spy_off(spy)
                say(f"  profile (py-spy, collapsed stacks, serve and its helpers): {profile}")
        after, ended, bench_after = serve.usage(), time.perf_counter(), time.process_time()
        result = replace(result, bench_cpu_share=round((bench_after - bench_before) / (ended - started), 2))
        if before is None or after is None:
            return result
        events = int(warmup * rate) + int(seconds * rate)
        own = after.own_cpu - before.own_cpu
        if spy is not None:
            result.notes.append("py-spy was sampling serve: its CPU and latency figures include that cost")
        return replace(result, serve_cpu_ms_per_event=round(1000 * own / events, 2),
                       serve_cpu_share=round(own / (ended - started), 2),
                       helpers_cpu_ms_per_event=round(1000 * (after.cpu - before.cpu - own) / events, 2))
    finally:
        await serve.stop()
        await inbox.close()


async def _drive(base_url: str, key: str, inbox: Receiver, *, rate: float, seconds: float, warmup: float,
                 drain: float, connections: int, label: str, watch: Callable[[], TreeUsage | None],
                 say: Callable[[str], None]) -> LatencyResult:
    tag = f"lat{label}{os.getpid()}"
    skip = int(warmup * rate)
    total = skip + int(seconds * rate)
    addresses = [recipient(tag, i).lower() for i in range(total)]
    sent_at = [0.0] * total
    answered_at = [0.0] * total
    status = [0] * total
    errors: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    host, _, port = base_url.removeprefix("http://").partition(":")
    clients = [Connection(host, int(port)) for _ in range(connections)]
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for client in clients:
        free.put_nowait(client)
    waited = [0.0] * total

    async def post(i: int) -> None:
        sent_at[i] = time.time()  # the event is due now: waiting for a free connection counts
        body = json.dumps(order_placed(tag, i)).encode()
        client = await free.get()
        waited[i] = time.time() - sent_at[i]
        try:
            code = await client.post("/api/v1/events", headers, body)
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            name = type(exc).__name__
            errors[name] = errors.get(name, 0) + 1
            return
        finally:
            free.put_nowait(client)
        answered_at[i] = time.time()
        status[i] = code
        if code >= 300:
            errors[str(code)] = errors.get(str(code), 0) + 1

    say(f"  {label}: POSTing {total} order.placed events at {rate:g}/s "
        f"({warmup:g} s warm-up + {seconds:g} s measured, {connections} keep-alive connections) …")
    tasks: set[asyncio.Task[None]] = set()
    lag_max = 0.0
    t0 = loop.time() + 0.05
    every = interval(seconds)
    sampler = Sampler(watch, t0 + skip / rate, every, round(seconds / every))
    sampling = asyncio.create_task(sampler.run())
    progress = t0 + skip / rate + 60
    try:
        for i in range(total):
            target = t0 + i / rate
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if i >= skip:
                lag_max = max(lag_max, loop.time() - target)
            task = asyncio.create_task(post(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if target >= progress:
                progress += 60
                say(f"  {label}: {i - skip:,} events sent, {len(inbox.arrivals):,} mails in, "
                    f"{len(tasks)} waiting for an answer")
        sending_ended = time.time()
        await sampling
        first_measured = sent_at[skip] if total > skip else sending_ended
        deadline = sending_ended + drain
        measured = addresses[skip:]
        while time.time() < deadline:
            if all(a in inbox.arrivals for a in measured):
                break
            await asyncio.sleep(0.1)
    finally:
        sampling.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(sampling, *tasks, return_exceptions=True)
        for client in clients:
            await client.close()

    delays: list[float | None] = [inbox.arrivals[a] - sent_at[i] if a in inbox.arrivals and sent_at[i] else None
                                  for i, a in enumerate(addresses) if i >= skip]
    latencies = sorted(d for d in delays if d is not None)
    sent = total - skip
    window = drain
    accepted = sum(1 for s in status[skip:] if 200 <= s < 300)
    http_times = sorted(answered_at[i] - sent_at[i] for i in range(skip, total) if answered_at[i])
    answers = [answered_at[i] for i in range(skip, total) if 200 <= status[i] < 300]
    arrivals = [inbox.arrivals[a] for a in addresses[skip:] if a in inbox.arrivals]
    notes = []
    if len(latencies) < sent:
        notes.append(f"{sent - len(latencies)} of {sent} mails had not arrived {drain:g} s after the last "
                     "POST; percentiles marked '>' are lower bounds")
    return LatencyResult(
        rate=rate, seconds=seconds, sent=sent, accepted=accepted, http_errors=errors, received=len(latencies),
        p50=percentile(latencies, sent, 0.50, window), p90=percentile(latencies, sent, 0.90, window),
        p99=percentile(latencies, sent, 0.99, window), max=percentile(latencies, sent, 1.0, window),
        http_p50_ms=rank_ms(http_times, 0.50), http_p99_ms=rank_ms(http_times, 0.99),
        accepted_per_second=_rate(answers, first_measured), mail_per_second=_rate(arrivals, first_measured),
        sender_lag_max_ms=lag_max * 1000, drain_seconds=drain, connections=connections,
        connection_wait_p99_ms=rank_ms(sorted(waited[skip:]), 0.99),
        slices=slices(delays, seconds, window, sampler.samples),
        memory=memory_growth(sampler.samples, seconds), notes=notes,
    )

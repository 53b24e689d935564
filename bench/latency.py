"""Event → SMTP-accepted latency through a real ``afterorder serve`` process.

The bench process runs the receiving SMTP server (afterorder's own aiosmtpd-based dev server) and
POSTs ``order.placed`` events on an open-loop schedule (event i leaves at t0 + i/rate, whatever the
answers), each for a customer of its own, so every mail is matched to its event by recipient.
Latency = when the mail's DATA arrived − when its event's POST was sent.  Events not delivered
by the end of the drain window count as slower than the window (percentiles become lower bounds).
"""

from __future__ import annotations

import asyncio
import json
import math
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
from events import order_placed, recipient
from httpclient import Connection
from receiver import Receiver
from sink import free_port, stop_process

AFTERORDER = str(Path(sys.executable).with_name("afterorder"))


@dataclass(frozen=True)
class Percentile:
    seconds: float
    lower_bound: bool  # True: that share of events had no mail by the end of the window

    def as_json(self) -> dict[str, Any]:
        return {"ms": round(self.seconds * 1000, 1), "lower_bound": self.lower_bound}


def percentile(values: list[float], total: int, share: float, window: float) -> Percentile | None:
    """Nearest-rank percentile over ``total`` events of which ``values`` (sorted) arrived."""
    if total == 0:
        return None
    rank = max(1, math.ceil(share * total))
    if rank <= len(values):
        return Percentile(values[rank - 1], False)
    return Percentile(window, True)


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
            "notes": self.notes,
        }


def _rate(times: list[float], start: float) -> float:
    """How many things happened per second between ``start`` and the last of ``times``."""
    if not times:
        return 0.0
    return len(times) / max(max(times) - start, 1e-3)


def _rank_ms(values: list[float], share: float) -> float | None:
    if not values:
        return None
    return round(values[max(1, math.ceil(share * len(values))) - 1] * 1000, 1)


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

    def __init__(self, port: int, process: asyncio.subprocess.Process, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self.log = log

    @classmethod
    async def start(cls, database_url: str, smtp_url: str, workers: int = 0) -> ServeProcess:
        port = free_port()
        fd, name = tempfile.mkstemp(prefix="afterorder-serve-", suffix=".log")
        args = ["serve", "--database", database_url, "--smtp", smtp_url, "--listen", f"127.0.0.1:{port}",
                "--retry-base", "1", "--lease", "30", "--workers", str(workers)]
        with os.fdopen(fd, "wb") as out:
            process = await asyncio.create_subprocess_exec(AFTERORDER, *args, stdout=out, stderr=subprocess.STDOUT,
                                                           stdin=subprocess.DEVNULL)
        return cls(port, process, Path(name))

    def output(self, last: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-last:]
        except OSError:
            return ""

    async def ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"afterorder serve exited ({self.process.returncode}):\n{self.output()}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"afterorder serve not ready after {timeout}s:\n{self.output()}")
                await asyncio.sleep(0.1)

    def cpu_seconds(self) -> float | None:
        """User + system CPU the serve process has used so far (Linux ``/proc``; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        await stop_process(self.process, timeout=15)
        self.log.unlink(missing_ok=True)


async def run_latency(database_url: str, *, rate: float = 200.0, seconds: float = 15.0,
                      warmup: float = 1.0, drain: float = 10.0, connections: int = 256, label: str = "",
                      workers: int = 0, say: Callable[[str], None] = print) -> LatencyResult:
    key = await create_store(database_url, "bench-latency")
    inbox = await Receiver().start()
    smtp = inbox
    serve = await ServeProcess.start(database_url, smtp.url, workers)
    try:
        await serve.ready()
        cpu_before, started = serve.cpu_seconds(), time.perf_counter()
        result = await _drive(serve.url, key, inbox, rate=rate, seconds=seconds, warmup=warmup, drain=drain,
                              connections=connections, label=label, say=say)
        cpu_after, ended = serve.cpu_seconds(), time.perf_counter()
        if cpu_before is None or cpu_after is None:
            return result
        events = int(warmup * rate) + int(seconds * rate)
        return replace(result, serve_cpu_ms_per_event=round(1000 * (cpu_after - cpu_before) / events, 2),
                       serve_cpu_share=round((cpu_after - cpu_before) / (ended - started), 2))
    finally:
        await serve.stop()
        await smtp.close()


async def _drive(base_url: str, key: str, inbox: Receiver, *, rate: float, seconds: float, warmup: float,
                 drain: float, connections: int, label: str, say: Callable[[str], None]) -> LatencyResult:
    tag = f"lat{label}{os.getpid()}"
    skip = int(warmup * rate)
    total = skip + int(seconds * rate)
    bodies = [json.dumps(order_placed(tag, i)).encode() for i in range(total)]
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
        client = await free.get()
        waited[i] = time.time() - sent_at[i]
        try:
            code = await client.post("/api/v1/events", headers, bodies[i])
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
        f"({warmup:g} s warm-up + {seconds:g} s measured, up to {connections} connections) …")
    tasks: list[asyncio.Task[None]] = []
    lag_max = 0.0
    t0 = loop.time() + 0.05
    try:
        for i in range(total):
            target = t0 + i / rate
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if i >= skip:
                lag_max = max(lag_max, loop.time() - target)
            tasks.append(asyncio.create_task(post(i)))
        sending_ended = time.time()
        first_measured = sent_at[skip] if total > skip else sending_ended
        deadline = sending_ended + drain
        measured = addresses[skip:]
        while time.time() < deadline:
            if all(a in inbox.arrivals for a in measured):
                break
            await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()

    latencies = sorted(inbox.arrivals[a] - sent_at[i] for i, a in enumerate(addresses)
                       if i >= skip and a in inbox.arrivals and sent_at[i])
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
        http_p50_ms=_rank_ms(http_times, 0.50), http_p99_ms=_rank_ms(http_times, 0.99),
        accepted_per_second=_rate(answers, first_measured), mail_per_second=_rate(arrivals, first_measured),
        sender_lag_max_ms=lag_max * 1000, drain_seconds=drain, connections=connections,
        connection_wait_p99_ms=_rank_ms(sorted(waited[skip:]), 0.99), notes=notes,
    )

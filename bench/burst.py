"""A burst of orders through the batch API, from outside, end to end, against the wire's ceiling.

This is issue 18's item 3 (and item 8's ingest rate) measured the way a store sees it:

1. ``smtp-sink`` (Postfix's C SMTP server) runs, and ``smtp-source`` (its C client) pushes
   ``ceiling_messages`` mails into it, reusing connections: the wire's ceiling in this run;
2. a real ``afterorder serve`` (plus ``--workers N``) delivers into the same sink;
3. ``clients`` keep-alive HTTP clients POST ``orders`` ``order.placed`` events to
   ``/api/v1/events`` in batches of ``batch`` (each a new customer, so one confirmation each);
4. accepted/s = orders / (first POST → last 2xx answer); mails/s = orders / (first POST → the
   sink's counter reaching them all); ratio = mails/s ÷ the ceiling.

Prints one line per figure and returns them; never asserts.  ``python bench/burst.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from events import order_placed
from httpclient import Connection
from latency import ServeProcess, create_store
from sink import SmtpSink, smtp_source
from spy import start as spy_on
from spy import stop as spy_off


@dataclass(frozen=True)
class BurstResult:
    backend: str
    workers: int
    orders: int
    batch: int
    clients: int
    ceiling_per_second: float  # smtp-source into the same sink, this run
    accept_seconds: float
    accepted_per_second: float
    delivered: int
    deliver_seconds: float  # first POST → the sink counted them all (or the window ended)
    mails_per_second: float
    ratio: float  # mails_per_second / ceiling_per_second
    serve_cpu_seconds: float | None
    http_errors: dict[str, int]


def _bodies(orders: int, batch: int, tag: str) -> list[bytes]:
    now = datetime.now(UTC)
    return [json.dumps({"events": [order_placed(tag, i, now=now) for i in range(start, min(start + batch, orders))]},
                       separators=(",", ":")).encode()
            for start in range(0, orders, batch)]


async def _post_all(url: str, key: str, bodies: list[bytes], clients: int, errors: dict[str, int]) -> float:
    """POST every body over ``clients`` keep-alive connections; returns when the last answer came."""
    host, port = url.removeprefix("http://").split(":")
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    last = 0.0

    async def client() -> None:
        nonlocal last
        connection = Connection(host, int(port))
        try:
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    status = await connection.post("/api/v1/events", headers, body)
                    if status == 200:
                        break
                    errors[str(status)] = errors.get(str(status), 0) + 1
                    await asyncio.sleep(1.0 if status in (429, 503) else 0.2)
                last = time.perf_counter()
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return last


async def run_burst(database_url: str, *, backend: str, orders: int = 20000, batch: int = 1000, clients: int = 4,
                    workers: int = 0, ceiling_messages: int = 20000, window: float = 600.0,
                    profile: Path | None = None, say: Callable[[str], None] = print) -> BurstResult:
    sink = await SmtpSink.start()
    try:
        ceiling = await smtp_source(sink, sessions=8, messages=ceiling_messages, reuse_connections=True)
        say(f"  smtp-source ceiling: {ceiling.per_second:,.0f} mails/s ({ceiling.command})")
        key = await create_store(database_url, "bench-burst")
        bodies = _bodies(orders, batch, f"b{int(time.time())}")
        serve = await ServeProcess.start(database_url, sink.url, workers)
        try:
            await serve.ready()
            spy = await spy_on(serve.process.pid, profile) if profile else None
            before = sink.messages()
            cpu0 = serve.cpu_seconds()
            errors: dict[str, int] = {}
            started = time.perf_counter()
            last_answer = await _post_all(serve.url, key, bodies, clients, errors)
            accept_seconds = last_answer - started
            say(f"  accepted {orders:,} orders in {accept_seconds:.1f} s: {orders / accept_seconds:,.0f} events/s")
            deadline = started + window
            delivered, last_seen, arrived_at = 0, -1, started
            while time.perf_counter() < deadline:
                delivered = sink.messages() - before
                if delivered != last_seen:
                    last_seen, arrived_at = delivered, time.perf_counter()
                if delivered >= orders:
                    break
                if time.perf_counter() - arrived_at > 60:
                    say("  nothing arrived for 60 s; ending the window")
                    break
                await asyncio.sleep(0.05)
            deliver_seconds = arrived_at - started
            cpu1 = serve.cpu_seconds()
            if spy is not None:
                await spy_off(spy)
                say(f"  profile (py-spy, collapsed stacks): {profile}")
        finally:
            await serve.stop()
    finally:
        await sink.stop()
    mails = delivered / deliver_seconds if deliver_seconds > 0 else 0.0
    result = BurstResult(
        backend=backend, workers=workers, orders=orders, batch=batch, clients=clients,
        ceiling_per_second=round(ceiling.per_second, 1), accept_seconds=round(accept_seconds, 2),
        accepted_per_second=round(orders / accept_seconds, 1), delivered=delivered,
        deliver_seconds=round(deliver_seconds, 2), mails_per_second=round(mails, 1),
        ratio=round(mails / ceiling.per_second, 3) if ceiling.per_second else 0.0,
        serve_cpu_seconds=None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 1),
        http_errors=errors)
    say(f"  delivered {delivered:,} in {deliver_seconds:.1f} s: {mails:,.0f} mails/s = "
        f"{result.ratio:.2f} of the ceiling")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy serve into this file (collapsed)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    database = args.database
    if database is None:
        import tempfile
        database = f"sqlite:///{tempfile.mkdtemp(prefix='afterorder-burst-')}/bench.db"
    backend = "postgresql" if database.startswith("postgres") else "sqlite"
    result = asyncio.run(run_burst(database, backend=backend, orders=args.orders, batch=args.batch,
                                   clients=args.clients, workers=args.workers,
                                   profile=args.profile))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()

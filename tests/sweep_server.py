"""A real afterorder serve on loopback for the API sweep: a SQLite file, a store with data, high rate limits.

The server runs in a thread with its own event loop (schemathesis calls it over HTTP from the test's
thread), so the runtime's engine and the app share one loop as they do under ``afterorder serve``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from afterorder.clock import SystemClock
from afterorder.web.app import create_app
from afterorder.web.rate_limits import Limit, RateLimitSettings
from tests.factories import add_store, order_event, running
from tests.loopback import loopback

# Far above what a sweep sends: the sweep looks for wrong answers, not for the limiter (tested elsewhere).
SWEEP_LIMITS = RateLimitSettings({name: Limit(1e6, 1_000_000) for name in ("public", "one_click", "webhooks", "api")})


@dataclass(frozen=True)
class SweepServer:
    base_url: str
    api_key: str
    store_slug: str


@contextmanager
def sweep_server(directory: Path) -> Iterator[SweepServer]:
    """Serve until the block ends; the store has orders, customers, runs, a segment and content."""
    started: list[SweepServer] = []
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        async with running(f"sqlite:///{directory}/afterorder.db", SystemClock()) as runtime:
            store, key = await add_store(runtime)
            async with loopback(create_app(runtime, limits=SWEEP_LIMITS)) as base_url:
                async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as c:
                    await seed(c)
                stop.append(asyncio.Event())
                started.append(SweepServer(base_url, key, store.slug))
                ready.set()
                await stop[0].wait()

    def main() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=main, name="sweep-server", daemon=True)
    thread.start()
    ready.wait(120)
    if failure or not started:
        raise AssertionError(f"the sweep server did not start: {failure!r}")
    try:
        yield started[0]
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(60)
        if failure:
            raise failure[0]


async def seed(client: httpx.AsyncClient) -> None:
    """Orders through their life, so the reads, segments, exports and reports have rows to answer with."""
    now = datetime.now(UTC)
    events = []
    for n in range(6):
        at = now - timedelta(days=30 - n)
        events += [order_event("order.placed", f"{n}", at, email=f"c{n % 3}@example.com"),
                   order_event("order.delivered", f"{n}", at + timedelta(days=2))]
    response = await client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200, response.text

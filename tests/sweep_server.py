"""A real afterorder serve on loopback for the API sweep: a SQLite file, a store with data, high rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from afterorder.clock import SystemClock
from afterorder.web.app import create_app
from afterorder.web.rate_limits import LIMIT_CLASSES, Limit, RateLimitSettings
from tests.factories import add_store, order_event, running
from tests.loopback import loopback
from tests.threaded_serve import in_thread

# Far above what a sweep sends: the sweep looks for wrong answers, not for the limiter (tested elsewhere).
HIGH_LIMITS = RateLimitSettings({name: Limit(1e6, 1_000_000) for name in LIMIT_CLASSES})


@dataclass(frozen=True)
class SweepServer:
    base_url: str
    api_key: str
    store_slug: str


@contextmanager
def sweep_server(directory: Path) -> Iterator[SweepServer]:
    """Serve until the block ends; the store has orders, customers, runs and a segment."""

    @asynccontextmanager
    async def serve() -> AsyncIterator[SweepServer]:
        async with running(f"sqlite:///{directory}/afterorder.db", SystemClock()) as runtime:
            store, key = await add_store(runtime)
            async with loopback(create_app(runtime, limits=HIGH_LIMITS)) as base_url:
                async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as c:
                    await seed(c)
                yield SweepServer(base_url, key, store.slug)

    with in_thread(serve) as server:
        yield server


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
    segment = {"name": "Japan", "condition": {"field": "customer.country", "value": "JP"}}
    response = await client.put("/api/v1/segments/jp", json=segment)
    assert response.status_code == 200, response.text

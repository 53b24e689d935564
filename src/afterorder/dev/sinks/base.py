"""What every provider sink shares: the record of what it accepted, scripted trouble, latency.

A sink is an ASGI app (Starlette) built by its provider module; ``Sink`` holds its state:

* ``accepted``: every message the provider would have taken, in order (what a test counts);
* ``requests``: every request that reached it, accepted or not (what a rate test times);
* ``trouble``: a function of the request → an answer to give instead of accepting it (a 429 with
  ``Retry-After`` for 30 seconds, a 500, a timeout), for throttling and crash tests;
* ``latency``: seconds every answer waits (``make bench`` answers in 5 ms);
* ``clock``: the time each accepted message is stamped with (``received_at``; the demo's fast clock).

Each provider module decides what "accepted" means for it (LINE: once per retry key — a repeat
gets 409, as LINE answers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SeenRequest:
    at: float  # time.monotonic() when it arrived
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Accepted:
    """One message the provider took: who it went to, what it said, the provider's id for it."""

    at: float
    to: str
    provider_id: str
    payload: Any  # the provider's own view of the message (LINE message objects, SMS text, raw MIME …)
    key: str | None = None  # the idempotency key it came with (LINE's retry key), if any
    received_at: datetime = field(default_factory=_utc_now)  # for people to read: the sink's clock


Trouble = Callable[[SeenRequest], Awaitable[Response | None] | Response | None]


@dataclass
class Sink:
    latency: float = 0.0
    trouble: Trouble | None = None
    clock: Callable[[], datetime] = _utc_now
    accepted: list[Accepted] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    _waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    async def seen(self, request: Request) -> tuple[SeenRequest, Response | None]:
        """Record the request; the scripted answer to give instead, if there is trouble now."""
        body = await request.body()
        seen = SeenRequest(time.monotonic(), request.url.path, {k.lower(): v for k, v in request.headers.items()},
                           body)
        self.requests.append(seen)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.trouble is not None:
            answer = self.trouble(seen)
            if isinstance(answer, Awaitable):
                answer = await answer
            if answer is not None:
                return seen, answer
        return seen, None

    def accept(self, item: Accepted) -> None:
        self.accepted.append(replace(item, received_at=self.clock()))
        for needed, waiter in self._waiters:
            if len(self.accepted) >= needed and not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, count: int, within: float = 10.0) -> list[Accepted]:
        """Until ``count`` messages were accepted (or ``TimeoutError`` after ``within`` seconds)."""
        if len(self.accepted) < count:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((count, waiter))
            try:
                await asyncio.wait_for(waiter, within)
            finally:
                self._waiters.remove((count, waiter))
        return list(self.accepted)


def throttled_for(seconds: float, retry_after: float, answer: Callable[[float], Response]) -> Trouble:
    """Trouble for the first ``seconds`` after the first request: ``answer(retry_after)`` (the provider's
    own 429), then none."""
    started: list[float] = []

    def trouble(request: SeenRequest) -> Response | None:
        if not started:
            started.append(request.at)
        return answer(retry_after) if request.at - started[0] < seconds else None

    return trouble


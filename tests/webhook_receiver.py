"""A store's own webhook receiver on loopback: it keeps every request (path, headers, raw body) and
answers from ``answers`` in turn (200 once they are used up; a 429 says ``Retry-After: 7``).  While
``holding`` is set, a request is kept and never answered (a sender killed mid-request)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.loopback import loopback

RETRY_AFTER = 7


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    holding: bool = False
    _never: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> PlainTextResponse:
        self.requests.append(Received(request.url.path, dict(request.headers), await request.body()))
        if self.holding:
            await self._never.wait()
        code = self.answers.pop(0) if self.answers else 200
        headers = {"Retry-After": str(RETRY_AFTER)} if code == 429 else {}
        return PlainTextResponse("ok" if code < 300 else "no", status_code=code, headers=headers)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    async with loopback(app) as base:
        receiver.url = base
        try:
            yield receiver
        finally:
            receiver._never.set()  # the held requests end, so the server can stop

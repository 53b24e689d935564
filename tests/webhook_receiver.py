"""A store's own webhook receiver on loopback: it keeps every request (path, headers, raw body) and
answers from ``answers`` in turn (200 once they are used up; a 429 says ``Retry-After: 7``)."""

from __future__ import annotations

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

    async def handle(self, request: Request) -> PlainTextResponse:
        self.requests.append(Received(request.url.path, dict(request.headers), await request.body()))
        code = self.answers.pop(0) if self.answers else 200
        headers = {"Retry-After": str(RETRY_AFTER)} if code == 429 else {}
        return PlainTextResponse("ok" if code < 300 else "no", status_code=code, headers=headers)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    async with loopback(app) as base:
        receiver.url = base
        yield receiver

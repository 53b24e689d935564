"""Request size at the door: a POST, PUT or PATCH whose body is over its route's limit is answered
413 ``{"error": "too_large", "message": "the body is over N bytes, ..."}`` (the API's error shape,
naming the limit) before any route reads it, and nothing of it is stored.

An ASGI layer around the whole application, so it holds for every route, the ones whose body
FastAPI parses itself (a pydantic model parameter) included.  A declared ``Content-Length`` over
the limit is refused without reading a byte (the server holds a body to the length it declared);
a body without one (chunked) is read here, counted, and refused as soon as it passes the limit,
else handed on whole.

The limits (:class:`BodyLimits`): the runtime's ``max_body_bytes`` (1 MiB unless ``serve
--max-body-bytes`` or ``[limits] max_body_bytes``: a full batch of events needs it) for every
route, except the routes in ``routes`` with a limit of their own (the public back-in-stock form:
4 KiB).  The customers' HTML forms (unsubscribe, preferences, surveys, the dashboard) keep their
own smaller limits and answer those with a page in the customer's language; past the runtime's
limit this layer answers first.  The OpenAPI document names each operation's limit (``413`` and
``x-max-body-bytes``: ``openapi_errors.document_errors``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from afterorder.web.errors import error

BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
BACK_IN_STOCK_BYTES: Final = 4096  # the public back-in-stock form: an email address and a product id


def _path(template: str) -> re.Pattern[str]:
    """``/public/{slug}/back-in-stock`` → a pattern matching it as requested and as the document spells it."""
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


ROUTE_LIMITS: Final[Sequence[tuple[str, int]]] = (("/public/{slug}/back-in-stock", BACK_IN_STOCK_BYTES),)


@dataclass(frozen=True)
class BodyLimits:
    """The largest body of each route: ``default`` unless one of ``routes`` matches the path."""

    default: int
    routes: tuple[tuple[re.Pattern[str], int], ...] = field(
        default_factory=lambda: tuple((_path(p), n) for p, n in ROUTE_LIMITS))

    def of(self, path: str) -> int:
        for pattern, limit in self.routes:
            if pattern.match(path):
                return limit
        return self.default


def too_large(limit: int) -> str:
    return f"the body is over {limit} bytes, the limit of this request; send less (smaller batches)"


class BodyLimit:
    """The ASGI layer: refuses an oversize body with 413, passes every other request on."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limits.of(scope["path"])
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await error(413, "too_large", too_large(limit))(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: the route sees it so
                await self.app(scope, _replay(bytes(body), message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await error(413, "too_large", too_large(limit))(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), None, receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _replay(body: bytes, last: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read here (then ``last``, if the client left), then the server's."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if last is not None:
        pending.append(last)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed

"""The security headers every answer carries, set in one place (an ASGI layer around the whole app).

* Every answer, JSON included: ``X-Content-Type-Options: nosniff``.
* Every HTML answer (the dashboard, the public pages, ``/inbox``, ``/runs``, the 429 page, the API
  docs) also gets:

  - ``Content-Security-Policy``: ``default-src 'self'; script-src 'self'; style-src 'self'
    'unsafe-inline'; img-src 'self' data: https:; font-src 'self' data: https:; object-src 'none';
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'``.  No inline script and no inline
    event handler runs: the pages' scripts are files under ``/static/``; a page that must inline one
    asks ``csp_nonce(request)`` for this answer's nonce and writes it on its ``<script>``, and the
    nonce is added to ``script-src`` for that answer only.  Styles may be inline: the mail previews
    (``srcdoc`` frames, which inherit the page's policy) are store-written HTML whose every element
    carries its own ``style=`` — nonces cannot reach those — and a style cannot run code.  Images
    may come from any https host, as mail images do.
  - ``X-Frame-Options: DENY`` (with ``frame-ancestors 'none'``): no page can be framed by another site.
  - ``Referrer-Policy: same-origin``, unless the page chose its own: the public pages, whose URLs
    carry signed tokens, send ``no-referrer``.

A handler that needs another origin (the API docs load Swagger UI from its CDN) calls
``allow(request, script=..., style=...)``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPE_KEY: Final = "afterorder.csp"
NOSNIFF: Final = (b"x-content-type-options", b"nosniff")
DENY: Final = (b"x-frame-options", b"DENY")
REFERRER: Final = (b"referrer-policy", b"same-origin")


@dataclass
class PagePolicy:
    """What one answer's policy adds to the base: a nonce, and origins allowed for scripts and styles."""

    nonce: str | None = None
    script: list[str] = field(default_factory=list)
    style: list[str] = field(default_factory=list)

    def header(self) -> str:
        script = " ".join(["'self'", *self.script, *([f"'nonce-{self.nonce}'"] if self.nonce else [])])
        style = " ".join(["'self'", "'unsafe-inline'", *self.style])
        return (f"default-src 'self'; script-src {script}; style-src {style}; img-src 'self' data: https:; "
                "font-src 'self' data: https:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                "frame-ancestors 'none'")


BASE_POLICY: Final = PagePolicy().header().encode()


def _policy(request: Request) -> PagePolicy:
    policy = request.scope.get(SCOPE_KEY)
    if not isinstance(policy, PagePolicy):  # a request that did not come through SecurityHeaders
        policy = request.scope[SCOPE_KEY] = PagePolicy()
    return policy


def csp_nonce(request: Request) -> str:
    """This answer's script nonce (made on first use): ``<script nonce="{{ nonce }}">``."""
    policy = _policy(request)
    if policy.nonce is None:
        policy.nonce = secrets.token_urlsafe(18)
    return policy.nonce


def allow(request: Request, *, script: tuple[str, ...] = (), style: tuple[str, ...] = ()) -> None:
    """Let this answer's page load scripts or styles from these origins too."""
    policy = _policy(request)
    policy.script.extend(script)
    policy.style.extend(style)


class SecurityHeaders:
    """Adds the headers to each answer's start; never replaces one the handler set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = PagePolicy()
        scope[SCOPE_KEY] = policy  # copies of the scope further in share this object

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                if NOSNIFF[0] not in names:
                    headers.append(NOSNIFF)
                kind = next((value for name, value in headers if name.lower() == b"content-type"), b"")
                if kind.startswith(b"text/html"):
                    if b"content-security-policy" not in names:
                        changed = policy.nonce or policy.script or policy.style
                        headers.append((b"content-security-policy", policy.header().encode() if changed
                                        else BASE_POLICY))
                    if DENY[0] not in names:
                        headers.append(DENY)
                    if REFERRER[0] not in names:
                        headers.append(REFERRER)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

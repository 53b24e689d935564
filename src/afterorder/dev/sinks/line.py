"""A local LINE Messaging API: push, LINE notification messages (PNP) and link tokens, checked and
answered as LINE does.

* ``POST /v2/bot/message/push`` — Bearer token, JSON ``{"to": <U + 32 hex>, "messages": [1–5]}``
  within LINE's limits, ``X-Line-Retry-Key`` a UUID when given.  Each retry key's message is held
  exactly once: a repeat of an accepted key answers **409** ``{"message": "The retry key is already
  accepted", "sentMessages": [...]}`` with ``x-line-accepted-request-id``, as LINE's "Retry failed
  API requests" page shows;
* ``POST /bot/pnp/push`` — JSON ``{"to": <sha256 hex of the phone>, "messages": [...]}``, no retry
  key (400 if one is sent), ``X-Line-Delivery-Tag`` of 16–100 characters; 200 ``{}``, or 422 for a
  number in ``pnp_refused`` (no LINE user has it, or they refused notification messages);
* ``POST /v2/bot/user/{userId}/linkToken`` — ``{"linkToken": ...}``, remembered in ``link_tokens``.

``follow`` sends afterorder a ``follow`` webhook, as LINE does when a user adds the account as a friend:
the body LINE's SDK samples show, signed with the channel secret (``x-line-signature``).

``monthly_limit`` (messages this month before LINE's "You have reached your monthly limit." 429),
``trouble`` with :func:`monthly_limit_answer` / :func:`rate_limit_answer`, and ``stall`` (accept, then
answer late: a lost answer) script what the channel must survive.  ``accepted`` keeps every message
(``payload``: its message objects) for the demo's chat bubbles.

Error bodies other than the 409 are built from LINE's ``ErrorResponse`` schema (``message``,
``details[]`` of ``{message, property}``); LINE publishes no verbatim samples of them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.channels import line_limits
from afterorder.channels.line import MONTHLY_LIMIT
from afterorder.dev.sinks.base import Accepted, SeenRequest, Sink

DEV_TOKEN = "dev-line-channel-access-token"
DEV_CHANNEL_SECRET = "dev-line-channel-secret"  # what its webhooks would be signed with
_USER_ID = re.compile(r"U[0-9a-f]{32}")
_HASHED_PHONE = re.compile(r"[0-9a-f]{64}")
_UNAUTHORIZED = "Authentication failed. Confirm that the access token in the authorization header is valid."


@dataclass(frozen=True)
class Held:
    """What LINE remembers of an accepted retry key: the request that was accepted, what it sent."""

    request_id: str
    sent: list[dict[str, str]]


def monthly_limit_answer() -> Response:
    """LINE's answer once the month's messages are used up."""
    return _answer(429, {"message": MONTHLY_LIMIT})


def rate_limit_answer(retry_after: float | None = None) -> Response:
    """LINE's answer over its rate limit (with ``Retry-After`` when given)."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return _answer(429, {"message": "Too Many Requests"}, headers)


@dataclass
class LineSink(Sink):
    token: str = DEV_TOKEN
    channel_secret: str = DEV_CHANNEL_SECRET
    bot_user_id: str = "U" + "0" * 31 + "1"  # the account's own user id: a webhook's destination
    monthly_limit: int | None = None
    stall: float = 0.0
    pnp_refused: set[str] = field(default_factory=set)
    held: dict[str, Held] = field(default_factory=dict)  # retry key → the accepted request
    link_tokens: dict[str, str] = field(default_factory=dict)  # link token → LINE user id
    delivery_tags: dict[str, str] = field(default_factory=dict)  # provider id → X-Line-Delivery-Tag
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(461230966842064897))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v2/bot/message/push", self._push, methods=["POST"]),
            Route("/bot/pnp/push", self._pnp, methods=["POST"]),
            Route("/v2/bot/user/{user_id}/linkToken", self._link_token, methods=["POST"]),
        ])

    async def _push(self, request: Request) -> Response:
        seen, answer = await self.seen(request)
        refused = answer or self._unauthorized(seen) or _bad_body(seen, notification=False)
        if refused is not None:
            return refused
        key = seen.headers.get("x-line-retry-key")
        if key is not None and not _is_uuid(key):
            return _answer(400, {"message": "The value for the 'X-Line-Retry-Key' header is invalid"})
        if key is not None and key in self.held:
            held = self.held[key]
            return _answer(409, {"message": "The retry key is already accepted", "sentMessages": held.sent},
                           {"x-line-accepted-request-id": held.request_id})
        if self.monthly_limit is not None and len(self.accepted) >= self.monthly_limit:
            return monthly_limit_answer()
        body, request_id = json.loads(seen.body), str(uuid.uuid4())
        sent = [{"id": str(next(self._ids)), "quoteToken": secrets.token_urlsafe(16)} for _ in body["messages"]]
        if key is not None:
            self.held[key] = Held(request_id, sent)
        self.accept(Accepted(time.monotonic(), body["to"], sent[0]["id"], body["messages"], key))
        return await self._answer_late(_answer(200, {"sentMessages": sent}, request_id=request_id))

    async def _pnp(self, request: Request) -> Response:
        seen, answer = await self.seen(request)
        refused = answer or self._unauthorized(seen) or _bad_body(seen, notification=True) or _bad_pnp(seen)
        if refused is not None:
            return refused
        body, request_id = json.loads(seen.body), str(uuid.uuid4())
        if body["to"] in self.pnp_refused:
            return _answer(422, {"message": "Failed to send messages"})
        tag = seen.headers.get("x-line-delivery-tag", "")
        self.delivery_tags[request_id] = tag
        self.accept(Accepted(time.monotonic(), body["to"], request_id, body["messages"]))
        return await self._answer_late(_answer(200, {}, request_id=request_id))

    async def _link_token(self, request: Request) -> Response:
        seen, answer = await self.seen(request)
        refused = answer or self._unauthorized(seen)
        if refused is not None:
            return refused
        user_id = request.path_params["user_id"]
        if not _USER_ID.fullmatch(user_id):
            return _answer(400, {"message": "The value for the 'userId' parameter is invalid"})
        token = secrets.token_urlsafe(24)
        self.link_tokens[token] = user_id
        return _answer(200, {"linkToken": token})

    async def follow(self, client: httpx.AsyncClient, webhook_url: str, user_id: str) -> httpx.Response:
        """Tell afterorder that ``user_id`` follows the account (a ``follow`` webhook event); its answer."""
        return await self.send_webhook(client, webhook_url, [{
            "type": "follow", "mode": "active", "timestamp": int(self.clock().timestamp() * 1000),
            "source": {"type": "user", "userId": user_id}, "webhookEventId": _event_id(),
            "deliveryContext": {"isRedelivery": False}, "replyToken": secrets.token_hex(16),
            "follow": {"isUnblocked": False}}])

    async def send_webhook(self, client: httpx.AsyncClient, webhook_url: str, events: list[dict[str, Any]],
                           ) -> httpx.Response:
        """POST ``events`` to the channel's webhook URL as LINE does: JSON, signed with the channel secret."""
        body = json.dumps({"destination": self.bot_user_id, "events": events}, ensure_ascii=False).encode()
        signature = base64.b64encode(hmac.new(self.channel_secret.encode(), body, hashlib.sha256).digest())
        return await client.post(webhook_url, content=body, headers={
            "content-type": "application/json; charset=utf-8", "x-line-signature": signature.decode("ascii"),
            "user-agent": "LineBotWebhook/2.0"})

    def _unauthorized(self, seen: SeenRequest) -> Response | None:
        if seen.headers.get("authorization") == f"Bearer {self.token}":
            return None
        return _answer(401, {"message": _UNAUTHORIZED})

    async def _answer_late(self, response: Response) -> Response:
        if self.stall:
            await asyncio.sleep(self.stall)
        return response


def _bad_body(seen: SeenRequest, *, notification: bool) -> Response | None:
    if not seen.headers.get("content-type", "").startswith("application/json"):
        return _answer(415, {"message": "Content-Type must be application/json"})
    try:
        body = json.loads(seen.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _answer(400, {"message": "The request body has 1 error(s)",
                             "details": [{"message": "may not be parsed as JSON", "property": ""}]})
    if not isinstance(body, dict):
        return _answer(400, {"message": "The request body must be a JSON object"})
    to_form = _HASHED_PHONE if notification else _USER_ID
    details = [] if isinstance(body.get("to"), str) and to_form.fullmatch(body["to"]) else \
        [{"message": "invalid destination", "property": "to"}]
    details += [{"message": problem, "property": "messages"}
                for problem in line_limits.problems(body.get("messages"), notification=notification)]
    if not details:
        return None
    return _answer(400, {"message": f"The request body has {len(details)} error(s)", "details": details})


def _bad_pnp(seen: SeenRequest) -> Response | None:
    if "x-line-retry-key" in seen.headers:
        return _answer(400, {"message": "The 'X-Line-Retry-Key' header is not supported by this endpoint"})
    tag = seen.headers.get("x-line-delivery-tag")
    if tag is not None and not 16 <= len(tag) <= 100:
        return _answer(400, {"message": "The value for the 'X-Line-Delivery-Tag' header is invalid"})
    return None


def _event_id() -> str:
    """A webhook event id in LINE's form (a ULID: 26 characters of Crockford's base32)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(26))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _answer(status: int, body: Any, headers: dict[str, str] | None = None, *, request_id: str | None = None
            ) -> Response:
    return JSONResponse(body, status, headers={"x-line-request-id": request_id or str(uuid.uuid4()),
                                               **(headers or {})})

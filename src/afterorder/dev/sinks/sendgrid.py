"""A local SendGrid v3 that checks requests as SendGrid does: ``POST /v3/mail/send``.

It wants ``Authorization: Bearer <the API key>`` and a JSON body of SendGrid's shape:
``personalizations`` (each with ``to`` addresses), ``from.email``, a ``subject``, ``content``
(``text/plain`` before ``text/html``, values not empty), ``headers`` without SendGrid's reserved
names, string ``custom_args``, at most 10 ``categories``.  A message it takes is recorded
(``Accepted.payload`` is the request's JSON; ``key`` its ``custom_args.afterorder_message_id``) and
answered 202 with an empty body and ``X-Message-Id``, as SendGrid answers.  Errors are SendGrid's
``{"errors": [{"message", "field", "help"}]}``: 400 for a field, 401 for a missing or wrong key,
413 for a body over 30 MB.

No SendGrid-owned sample of these answers came with the fixtures: the shapes are built from SendGrid's
v3 reference (the mail/send fields, the reserved header names its SDKs quote, the error object, the
rate-limit page's 429 example with ``X-RateLimit-*``); the error texts are ours where it gives none.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.dev.sinks.base import Accepted, Sink

PATH = "/v3/mail/send"
MAX_BYTES = 30 * 1024 * 1024
RESERVED = frozenset({"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                      "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"})
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Invalid(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def error(status: int, message: str, field: str | None = None, *, headers: dict[str, str] | None = None) -> Response:
    """A SendGrid error answer."""
    return JSONResponse({"errors": [{"message": message, "field": field, "help": HELP if field else None}]},
                        status, headers=headers)


def rate_limited(reset_in: float, *, limit: int = 600, clock: Callable[[], float] = time.time) -> Response:
    """SendGrid's 429: ``X-RateLimit-Reset`` is the Unix time the limit resets."""
    reset = int(clock() + reset_in + 0.999)
    return error(429, "too many requests", headers={"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                                                    "X-RateLimit-Reset": str(reset)})


def app(sink: Sink, *, api_key: str) -> Starlette:
    """The local SendGrid for one API key."""

    async def mail_send(request: Request) -> Response:
        seen, trouble = await sink.seen(request)
        if trouble is not None:
            return trouble
        scheme, _, given = seen.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not given:
            return error(401, "authorization required")
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            return error(401, "The provided authorization grant is invalid, expired, or revoked")
        if len(seen.body) > MAX_BYTES:
            return error(413, "The JSON payload you have included in your request is too large.")
        try:
            body = _checked(seen.body)
        except Invalid as invalid:
            return error(400, invalid.message, invalid.field)
        message_id = secrets.token_urlsafe(16)[:22]
        to = ", ".join(t["email"] for p in body["personalizations"] for t in p["to"])
        key = (body.get("custom_args") or {}).get("afterorder_message_id")
        sink.accept(Accepted(seen.at, to, message_id, body, key=key))
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    return Starlette(routes=[Route(PATH, mail_send, methods=["POST"])])


def _checked(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise Invalid("Bad Request") from None
    if not isinstance(body, dict):
        raise Invalid("Bad Request")
    _personalizations(body.get("personalizations"))
    _mailbox(body.get("from"), "from")
    if not isinstance(body.get("subject"), str) or not body["subject"]:
        raise Invalid("The subject is required. You can get around this requirement if you use a template with a "
                      "subject defined or if every personalization has a subject defined.", "subject")
    _content(body.get("content"))
    _strings(body.get("headers"), "headers")
    reserved = sorted(n for n in body.get("headers") or {} if n.lower() in RESERVED)
    if reserved:
        raise Invalid(f"These headers are reserved and may not be set: {', '.join(reserved)}", "headers")
    _strings(body.get("custom_args"), "custom_args")
    categories = body.get("categories") or []
    if not isinstance(categories, list) or len(categories) > 10 or \
            not all(isinstance(c, str) and 0 < len(c) <= 255 for c in categories):
        raise Invalid("Categories must be at most 10 strings of at most 255 characters.", "categories")
    return body


def _personalizations(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise Invalid("The personalizations field is required and must have at least one personalization.",
                      "personalizations")
    for i, personalization in enumerate(value):
        to = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(to, list) or not to:
            raise Invalid("The to array is required for all personalization objects, and must have at least one "
                          "email object with a valid email address.", f"personalizations.{i}.to")
        for j, mailbox in enumerate(to):
            _mailbox(mailbox, f"personalizations.{i}.to.{j}")


def _mailbox(value: Any, field: str) -> None:
    address = value.get("email") if isinstance(value, dict) else None
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise Invalid("Does not contain a valid address.", f"{field}.email")


def _content(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise Invalid("Unless a valid template_id is provided, the content parameter is required. There must be at "
                      "least one defined content block.", "content")
    kinds = []
    for i, block in enumerate(value):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str) or not block.get("value"):
            raise Invalid("The content value must be a string at least one character in length.",
                          f"content.{i}.value")
        kinds.append(block["type"])
    if "text/plain" in kinds and kinds.index("text/plain") != 0:
        raise Invalid("If present, text/plain content must be first, followed by text/html.", "content")


def _strings(value: Any, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise Invalid(f"{field} must be an object of string keys and string values.", field)

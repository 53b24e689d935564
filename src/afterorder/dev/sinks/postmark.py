"""A local Postmark that checks requests as Postmark does: ``POST /email/batch``.

It wants ``X-Postmark-Server-Token`` (else 401, ``ErrorCode`` 10), a JSON content type (else 422,
409), a JSON array (else 422, 402) of at most 500 messages (else 422, 410), and answers 200 with one
entry per message, in order: ``{"ErrorCode": 0, "Message": "OK", "MessageID", "SubmittedAt", "To"}``
for a message it takes (recorded as accepted: ``payload`` is the message's JSON object, ``key`` its
Message-ID header), ``{"ErrorCode": 300, ...}`` for one without From, To or a body, and
``{"ErrorCode": 406, ...}`` for one sent to an address in ``inactive`` (Postmark's suppressed
recipients: a hard bounce, a spam complaint, a manual suppression).

The success entries follow the example in Postmark's "Send batch emails" guide; Postmark publishes no
sample of an error entry or of its 401/422 bodies, so those are ``{"ErrorCode", "Message"}`` as its
API overview describes, with the codes of its error-code table and our own wording.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.dev.sinks.base import Accepted, Sink

PATH = "/email/batch"
MAX_BATCH = 500
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def error(status: int, code: int, message: str) -> Response:
    """A Postmark answer for the whole request."""
    return JSONResponse({"ErrorCode": code, "Message": message}, status)


def rate_limited(_retry_after: float | None = None) -> Response:
    """Postmark's 429 (it sends no Retry-After)."""
    return error(429, 429, "Rate limit exceeded: you are sending faster than Postmark accepts. Slow down.")


def app(sink: Sink, *, server_token: str, inactive: Iterable[str] = ()) -> Starlette:
    """The local Postmark for one server token; ``inactive`` addresses get ``ErrorCode`` 406."""
    suppressed = {address.lower() for address in inactive}

    async def batch(request: Request) -> Response:
        seen, trouble = await sink.seen(request)
        if trouble is not None:
            return trouble
        if not secrets.compare_digest(seen.headers.get("x-postmark-server-token", "").encode(), server_token.encode()):
            return error(401, 10, "The Server Token you provided in the X-Postmark-Server-Token request header "
                         "was invalid. Please verify that you are using a valid token.")
        if not seen.headers.get("content-type", "").startswith("application/json"):
            return error(422, 409, "Your HTTP request does not have the Content-Type header set to application/json.")
        try:
            messages = json.loads(seen.body)
        except ValueError:
            return error(422, 402, "Received invalid JSON input.")
        if not isinstance(messages, list):
            return error(422, 402, "The batch endpoint takes a JSON array of messages.")
        if len(messages) > MAX_BATCH:
            return error(422, 410, f"Too many batch messages: {len(messages)}; the limit is {MAX_BATCH}.")
        return JSONResponse([_answer(sink, seen.at, m, suppressed) for m in messages])

    return Starlette(routes=[Route(PATH, batch, methods=["POST"])])


def _answer(sink: Sink, at: float, message: Any, suppressed: set[str]) -> dict[str, Any]:
    problem = _problem(message)
    if problem is not None:
        return {"ErrorCode": 300, "Message": problem}
    to = [address for _, address in getaddresses([message["To"]])]
    found = [a for a in to if a.lower() in suppressed]
    if found:
        return {"ErrorCode": 406, "Message": "You tried to send to recipient(s) that have been marked as inactive. "
                f"Found inactive addresses: {', '.join(found)}. Inactive recipients are ones that have generated a "
                "hard bounce, a spam complaint, or a manual suppression."}
    message_id = str(uuid.uuid4())
    sink.accept(Accepted(at, ", ".join(to), message_id, message, key=_message_id(message)))
    return {"ErrorCode": 0, "Message": "OK", "MessageID": message_id,
            "SubmittedAt": datetime.now(UTC).isoformat(), "To": message["To"]}


def _problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "Each message of a batch must be a JSON object."
    if not isinstance(message.get("From"), str) or not getaddresses([message["From"]])[0][1]:
        return "Invalid 'From' address: none was given."
    to = getaddresses([message["To"]]) if isinstance(message.get("To"), str) else []
    if not to or not all(_ADDRESS.match(address) for _, address in to):
        return f"Invalid 'To' address: '{message.get('To')}'."
    if not (message.get("TextBody") or message.get("HtmlBody")):
        return "Provide either email TextBody or HtmlBody or both."
    headers = message.get("Headers") or []
    if not isinstance(headers, list) or not all(isinstance(h, dict) and isinstance(h.get("Name"), str)
                                                and isinstance(h.get("Value"), str) for h in headers):
        return "Headers must be an array of {\"Name\", \"Value\"} objects."
    return None


def _message_id(message: dict[str, Any]) -> str | None:
    for header in message.get("Headers") or []:
        if header["Name"].lower() == "message-id":
            return str(header["Value"])
    return None

"""A local Twilio Messages API: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

Checks HTTP Basic auth (``AccountSid:AuthToken``, the SID in the path the same), the form fields
(``To`` in E.164, ``From`` or ``MessagingServiceSid``, ``Body`` ≤ 1,600 characters) and answers 201
with a Message resource shaped like the ones in Twilio's own SDK tests
(``tests/fixtures/twilio/message_create_response.*.json``), or Twilio's error JSON
``{"code", "message", "more_info", "status"}`` — built from the codes' reference (no verbatim Twilio
error bodies are published beyond the ``21211`` example).  Numbers in ``unsubscribed`` answer 21610
(the customer replied STOP), in ``not_mobile`` 21614.  ``accepted`` keeps every message (``payload``:
its text) for the demo's phone thread, ``callbacks`` the status callback URL of each.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.dev.sinks.base import Accepted, SeenRequest, Sink

DEV_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEV_AUTH_TOKEN = "dev-twilio-auth-token"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# GSM 03.38: the basic set, and the extension set (each of those takes two septets)
_GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
                 "¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def error(code: int, message: str, status: int = 400) -> Response:
    """Twilio's error answer."""
    return JSONResponse({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status)


def too_many_requests(retry_after: float | None = None) -> Response:
    answer = error(20429, "Too Many Requests", 429)
    if retry_after is not None:
        answer.headers["Retry-After"] = f"{retry_after:g}"
    return answer


def segments(text: str) -> int:
    """SMS segments the text takes: GSM-7 160 / 153 per part, else UCS-2 70 / 67 (UTF-16 units)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        size, single, part = sum(2 if c in _GSM_EXTENDED else 1 for c in text), 160, 153
    else:
        size, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if size <= single else math.ceil(size / part)


@dataclass
class TwilioSink(Sink):
    account_sid: str = DEV_ACCOUNT_SID
    auth_token: str = DEV_AUTH_TOKEN
    unsubscribed: set[str] = field(default_factory=set)
    not_mobile: set[str] = field(default_factory=set)
    callbacks: dict[str, str] = field(default_factory=dict)  # message sid → StatusCallback URL

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", self._create, methods=["POST"])])

    async def _create(self, request: Request) -> Response:
        seen, answer = await self.seen(request)
        refused = answer or self._unauthorized(seen, request.path_params["sid"])
        if refused is not None:
            return refused
        form = dict(parse_qsl(seen.body.decode("utf-8", "replace"), keep_blank_values=True))
        refused = _bad_form(form) or self._refused_number(form["To"])
        if refused is not None:
            return refused
        message = _resource(self.account_sid, form)
        self.accept(Accepted(time.monotonic(), form["To"], message["sid"], form["Body"]))
        if form.get("StatusCallback"):
            self.callbacks[message["sid"]] = form["StatusCallback"]
        return JSONResponse(message, 201)

    def _unauthorized(self, seen: SeenRequest, path_sid: str) -> Response | None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode("ascii")
        if seen.headers.get("authorization") == f"Basic {expected}" and path_sid == self.account_sid:
            return None
        return error(20003, "Authenticate", 401)

    def _refused_number(self, to: str) -> Response | None:
        if to in self.unsubscribed:
            return error(21610, "Attempt to send to unsubscribed recipient")
        if to in self.not_mobile:
            return error(21614, f"'To' number {to} is not a valid mobile number")
        return None


def _bad_form(form: dict[str, str]) -> Response | None:
    to, body = form.get("To", ""), form.get("Body", "")
    if not to:
        return error(21604, "A 'To' phone number is required.")
    if not _E164.fullmatch(to):
        return error(21211, f"The 'To' number {to} is not a valid phone number.")
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return error(21603, "A 'From' phone number is required.")
    if not body:
        return error(21602, "Message body is required.")
    if len(body) > 1600:
        return error(21617, "The concatenated message body exceeds the 1600 character limit.")
    return None


def _resource(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    """The Message resource Twilio answers a create with (the keys of its SDK's fixtures)."""
    sid, now = "SM" + secrets.token_hex(16), format_datetime(datetime.now(UTC))
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    service = form.get("MessagingServiceSid")
    return {
        "account_sid": account_sid, "api_version": "2010-04-01", "body": form["Body"],
        "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": form.get("From"), "messaging_service_sid": service,
        "num_media": "0", "num_segments": str(segments(form["Body"])), "price": None, "price_unit": None,
        "sid": sid, "status": "accepted" if service and not form.get("From") else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"}, "tags": {}, "to": form["To"], "uri": f"{uri}.json",
    }

"""LINE Messaging API: a push to a LINE user, or a LINE notification message (PNP) to a phone number.

The outbox payload is ``{"messages": [<message objects>]}``; ``recipients[0]`` says where it goes:

* a LINE user id (``U`` + 32 hex) → ``POST /v2/bot/message/push`` with ``X-Line-Retry-Key`` (the
  message's :attr:`~afterorder.channels.base.OutgoingMessage.retry_key`, the same on every attempt).
  LINE accepts a key once; a repeat after it was accepted gets **409** with the accepted request's id
  (``x-line-accepted-request-id``) and, for pushes, the same ``sentMessages`` — so a retry after a
  timeout or a crash is recorded as SENT and the customer gets the message once;
* the SHA-256 hex of the E.164 phone number (:func:`phone_hash`) → ``POST /bot/pnp/push``, LINE's
  "LINE通知メッセージ" (flexible).  That endpoint takes no retry key (a key there is a 400); it takes
  ``X-Line-Delivery-Tag`` (:func:`delivery_tag`, derived from the message id), which LINE echoes in
  the delivery-completion webhook's ``delivery.data``, so the tag is the message's provider id.

========================================= ==========================================================
200                                       SENT (push: ``sentMessages[0].id`` as the provider id)
409 on push                               SENT: already accepted under this retry key
429 "You have reached your monthly limit." TEMPORARY, busy QUOTA (LINE sends nothing more this month)
429 (other)                               TEMPORARY, busy THROTTLED, after ``Retry-After`` if any
401                                       TEMPORARY: the channel access token was refused (the
                                          operator's to fix; no message is at fault)
400, 403, 422 (PNP: no LINE user with     PERMANENT
that number, or they refused)
5xx, timeout                              TEMPORARY, unknown: retried with the same key
========================================= ==========================================================

A payload over LINE's limits (``line_limits``) is PERMANENT with the limit named, never sent.
``issue_link_token`` serves account linking (``/v2/bot/user/{userId}/linkToken``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import field_validator

from afterorder.channels import line_limits
from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.http import DEFAULT_TIMEOUT, HttpChannel, HttpRequest, body_json
from afterorder.channels.options import Provider, ProviderOptions, Required

DEFAULT_API_BASE = "https://api.line.me"
PUSH_PATH = "/v2/bot/message/push"
PNP_PATH = "/bot/pnp/push"
# LINE's rate limit for "other API endpoints", push and PNP among them: 2,000 requests per second
PUSH_RATE = 2_000.0
MONTHLY_LIMIT = "You have reached your monthly limit."

_USER_ID = re.compile(r"U[0-9a-f]{32}")
_HASHED_PHONE = re.compile(r"[0-9a-f]{64}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_DELIVERY_TAG_LENGTH = 32  # LINE takes 16–100 characters


def phone_hash(e164: str) -> str:
    """The address of a LINE notification message: SHA-256 (lowercase hex) of the E.164 number,
    ``+`` included, nothing else (LINE's technical specification)."""
    if not _E164.fullmatch(e164):
        raise ValueError(f"not an E.164 phone number (+ and digits, no spaces or hyphens): {e164!r}")
    return hashlib.sha256(e164.encode("ascii")).hexdigest()


def is_hashed_phone(recipient: str) -> bool:
    return _HASHED_PHONE.fullmatch(recipient) is not None


def delivery_tag(message_id: str) -> str:
    """The ``X-Line-Delivery-Tag`` of a message: 32 hex characters derived from its id (so it is
    never mistaken for a 64-character phone hash, which LINE reports when no tag was sent)."""
    return hashlib.sha256(b"line-delivery-tag\0" + message_id.encode("utf-8")).hexdigest()[:_DELIVERY_TAG_LENGTH]


class LineApiError(Exception):
    """A LINE API call other than sending failed; ``status`` is LINE's answer (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def issue_link_token(client: httpx.AsyncClient, api_base: str, channel_access_token: str,
                           user_id: str) -> str:
    """A link token for ``user_id`` (valid 10 minutes, single use) for LINE's account-link dialog."""
    url = f"{api_base.rstrip('/')}/v2/bot/user/{quote(user_id, safe='')}/linkToken"
    try:
        response = await client.post(url, headers={"Authorization": f"Bearer {channel_access_token}"})
    except httpx.HTTPError as exc:
        raise LineApiError(f"LINE link token: no answer from {api_base}: {type(exc).__name__}") from exc
    token = _field(body_json(response), "linkToken")
    if response.status_code != 200 or not token:
        raise LineApiError(f"LINE link token for {user_id}: {response.status_code} {_message(response)}",
                           response.status_code)
    return token


class LineChannel(HttpChannel):
    provider = "line"

    def __init__(self, channel_access_token: str, api_base: str = DEFAULT_API_BASE, *,
                 client: httpx.AsyncClient | None = None, timeout: float = DEFAULT_TIMEOUT,
                 concurrency: int = 32) -> None:
        super().__init__(api_base, client=client, timeout=timeout, concurrency=concurrency)
        self._auth = f"Bearer {channel_access_token}"

    def request(self, message: OutgoingMessage) -> HttpRequest:
        to = message.recipients[0] if message.recipients else ""
        notification = is_hashed_phone(to)
        if not notification and not _USER_ID.fullmatch(to):
            raise ValueError(f"recipient must be a LINE user id (U + 32 hex) or a hashed phone number, got {to!r}")
        messages = _messages(message)
        body = line_limits.compact_json({"to": to, "messages": messages})
        line_limits.check(messages, notification=notification, document=body)
        headers = {"Authorization": self._auth, "Content-Type": "application/json"}
        if notification:
            headers["X-Line-Delivery-Tag"] = delivery_tag(message.message_id)
        else:
            headers["X-Line-Retry-Key"] = message.retry_key
        return HttpRequest("POST", PNP_PATH if notification else PUSH_PATH, headers, body)

    def read(self, response: httpx.Response, verdict: SendResult) -> SendResult:
        notification = response.request.url.path.endswith(PNP_PATH)
        if verdict.outcome is SendOutcome.SENT:
            sent_id = response.request.headers.get("x-line-delivery-tag") if notification else \
                _sent_id(body_json(response))
            return SendResult(SendOutcome.SENT, response.status_code, _detail(response), provider_id=sent_id)
        if response.status_code == 409 and not notification:
            return _already_accepted(response)
        return _refused(response, verdict)


def _already_accepted(response: httpx.Response) -> SendResult:
    """A retry of a push LINE took before: sent, under the id LINE gave it then."""
    accepted = response.headers.get("x-line-accepted-request-id")
    detail = "already accepted under this retry key" + (f" (request {accepted})" if accepted else "")
    return SendResult(SendOutcome.SENT, 409, detail, provider_id=_sent_id(body_json(response)))


def _refused(response: httpx.Response, verdict: SendResult) -> SendResult:
    status = response.status_code
    if status == 429 and _field(body_json(response), "message").strip() == MONTHLY_LIMIT:
        return SendResult(SendOutcome.TEMPORARY, status, f"LINE: {MONTHLY_LIMIT}", busy=Busy.QUOTA)
    if status == 401:
        return SendResult(SendOutcome.TEMPORARY, status, f"LINE refused the channel access token: {_message(response)}")
    if status >= 500:  # LINE may have taken it: retried with the same key, never elsewhere
        return SendResult(SendOutcome.TEMPORARY, status, verdict.detail, retry_after=verdict.retry_after,
                          busy=verdict.busy, unknown=True)
    return SendResult(verdict.outcome, status, f"LINE {status}: {_message(response)}", verdict.retry_after,
                      verdict.busy, verdict.unknown)


def _messages(message: OutgoingMessage) -> list[Any]:
    try:
        payload = json.loads(message.data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the LINE payload is not JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
        raise ValueError('the LINE payload must be {"messages": [...]}')
    messages: list[Any] = payload["messages"]
    return messages


def _field(body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _sent_id(body: Any) -> str | None:
    sent = body.get("sentMessages") if isinstance(body, dict) else None
    if isinstance(sent, list) and sent and isinstance(sent[0], dict) and sent[0].get("id") is not None:
        return str(sent[0]["id"])
    return None


def _message(response: httpx.Response) -> str:
    body = body_json(response)
    text = _field(body, "message") or response.reason_phrase
    details = body.get("details") if isinstance(body, dict) else None
    if isinstance(details, list) and details:
        text += " (" + "; ".join(f"{d.get('property', '')}: {d.get('message', '')}" for d in details
                                 if isinstance(d, dict)) + ")"
    return text


def _detail(response: httpx.Response) -> str:
    request_id = response.headers.get("x-line-request-id")
    return f"{response.status_code} accepted" + (f" (request {request_id})" if request_id else "")


class LineOptions(ProviderOptions):
    """``channel_access_token`` (a long-lived channel access token) and ``channel_secret`` (verifies
    webhooks) from the LINE Developers console; ``basic_id``: the account's ``@xxxx`` id, for
    add-friend links."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"channel_access_token", "channel_secret"})
    channel_access_token: Required
    channel_secret: Required
    basic_id: str | None = None

    @field_validator("basic_id")
    @classmethod
    def _basic_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"@[0-9a-z._-]{2,32}", value.lower()):
            raise ValueError("the account's LINE id starting with @, e.g. @123abcde")
        return value.lower()


def _build(options: LineOptions, client: httpx.AsyncClient | None) -> LineChannel:
    return LineChannel(options.channel_access_token, options.api_base or DEFAULT_API_BASE, client=client)


PROVIDER = Provider("line", ChannelKind.LINE, LineOptions, _build, DEFAULT_API_BASE, PUSH_RATE)

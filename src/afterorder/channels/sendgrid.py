"""SendGrid v3 ``POST /v3/mail/send`` with ``Authorization: Bearer <api_key>``.

v3 takes no raw MIME, so the outbox's bytes are read back into their parts (``mimeparts``) and sent
as ``personalizations`` (the recipients), ``from``, ``reply_to``, ``subject``, ``content``
(``text/plain`` first, then the AMP for Email part ``text/x-amp-html`` when the message has
one, then ``text/html``, as SendGrid requires), ``headers`` and ``categories``
(the message's category).  ``headers`` carries Message-ID, List-Unsubscribe, List-Unsubscribe-Post
and our ``X-`` headers, less the ones SendGrid reserves and refuses with a 400 (its reference:
x-sg-id, x-sg-eid, received, dkim-signature, Content-Type, Content-Transfer-Encoding, To, From,
Subject, Reply-To, CC, BCC).  ``custom_args`` carries our Message-ID as ``afterorder_message_id``:
SendGrid copies custom args into every Event Webhook event, so an event can be matched to the
message even where SendGrid rewrote the Message-ID.

202 with ``X-Message-Id`` → SENT, that id kept as the provider's (the events' ``sg_message_id``
begins with it).  Errors are ``{"errors": [{"message", "field", "help"}]}``:

=============== ===========================================================================
429             TEMPORARY, busy: after ``X-RateLimit-Reset`` (a Unix time), read by http.py
401, 403        TEMPORARY: the API key is wrong, revoked or lacks "Mail Send" — the operator's
                to fix, not the message's; the detail says so and the message waits
400, 413        PERMANENT: this message is wrong for SendGrid (a field, or too large)
5xx             TEMPORARY, unknown (http.py): SendGrid may have taken it
=============== ===========================================================================
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx
from pydantic import Field

from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.http import DEFAULT_TIMEOUT, HttpChannel, HttpRequest, body_json
from afterorder.channels.mimeparts import EmailParts, Mailbox, read_email
from afterorder.channels.options import Provider, ProviderOptions

PATH = "/v3/mail/send"
DEFAULT_API_BASE = "https://api.sendgrid.com"
RESERVED = frozenset({"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                      "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"})
MESSAGE_ID_ARG = "afterorder_message_id"


class SendgridChannel(HttpChannel):
    provider = "sendgrid"

    def __init__(self, api_key: str, *, api_base: str | None = None, client: httpx.AsyncClient | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(api_base or DEFAULT_API_BASE, client=client, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def request(self, message: OutgoingMessage) -> HttpRequest:
        if not message.recipients:
            raise ValueError("the message has no recipient")
        body = mail_send_body(message, read_email(message.data))
        return HttpRequest("POST", PATH, self._headers, json.dumps(body, ensure_ascii=False).encode())

    def read(self, response: httpx.Response, verdict: SendResult) -> SendResult:
        status = response.status_code
        if verdict.outcome is SendOutcome.SENT:
            provider_id = response.headers.get("x-message-id") or None
            return SendResult(SendOutcome.SENT, status, f"sendgrid: accepted {provider_id or '(no X-Message-Id)'}",
                              provider_id=provider_id)
        detail = f"sendgrid: {status}: {_errors(response)}"
        if status in (401, 403):
            return SendResult(SendOutcome.TEMPORARY, status, f"{detail} (the API key is wrong, revoked or lacks "
                              "the Mail Send permission: the operator's to fix; the message waits)")
        return SendResult(verdict.outcome, status, detail, verdict.retry_after, verdict.busy, verdict.unknown)


def mail_send_body(message: OutgoingMessage, parts: EmailParts) -> dict[str, Any]:
    """The v3 mail/send JSON for ``message``."""
    bodies = (("text/plain", parts.text), ("text/x-amp-html", parts.amp), ("text/html", parts.html))
    content = [{"type": kind, "value": value} for kind, value in bodies if value]
    if not content:
        raise ValueError("the message's text and HTML bodies are both empty")
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": address} for address in message.recipients]}],
        "from": _mailbox(parts.sender),
        "subject": parts.subject,
        "content": content,
        "custom_args": {MESSAGE_ID_ARG: parts.message_id or message.message_id},
    }
    if len(parts.reply_to) == 1:
        body["reply_to"] = _mailbox(parts.reply_to[0])
    elif parts.reply_to:
        body["reply_to_list"] = [_mailbox(m) for m in parts.reply_to]
    headers = {name: value for name, value in parts.headers if name.lower() not in RESERVED}
    if headers:
        body["headers"] = headers
    if message.category:
        body["categories"] = [message.category[:255]]
    return body


def _mailbox(mailbox: Mailbox) -> dict[str, str]:
    return {"email": mailbox.address, "name": mailbox.name} if mailbox.name else {"email": mailbox.address}


def _errors(response: httpx.Response) -> str:
    """SendGrid's error messages, each with the field it names, as one line."""
    body = body_json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return " ".join(response.text.split())[:300] or "(no body)"
    listed = []
    for error in errors:
        if isinstance(error, dict):
            field = error.get("field")
            listed.append(f"{field}: {error.get('message')}" if field else str(error.get("message")))
    return "; ".join(listed)


class SendgridOptions(ProviderOptions):
    """``api_key``: an API key with the Mail Send permission."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"api_key"})
    api_key: str = Field(min_length=1)


def _build(options: SendgridOptions, client: httpx.AsyncClient | None) -> SendgridChannel:
    return SendgridChannel(options.api_key, api_base=options.api_base, client=client)


# default_rate None: SendGrid publishes no request limit for mail/send (its per-endpoint limits,
# e.g. 600 requests/minute on the v2 API, exclude it); a 429 still slows us down.
PROVIDER = Provider("sendgrid", ChannelKind.EMAIL, SendgridOptions, _build, DEFAULT_API_BASE, default_rate=None)

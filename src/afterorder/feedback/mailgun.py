"""Mailgun webhooks (``failed``, ``complained``, ``unsubscribed``, ``delivered``), signed with
HMAC-SHA256(webhook signing key, timestamp + token) in the body's ``signature`` object.
``severity: permanent`` is a hard bounce; ``delivered`` marks the message delivered (Mailgun knows a
message by its Message-ID, so ours finds it)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from afterorder.domain import EventType
from afterorder.feedback.base import (
    BadCredentials,
    Bounce,
    Feedback,
    WebhookRequest,
    address,
    angle,
    delivered,
    mapping,
    text,
    unix_time,
)
from afterorder.intake.errors import Malformed, Unauthorized

NAME = "mailgun"
EVENTS = {"failed": EventType.MESSAGE_BOUNCED, "complained": EventType.MESSAGE_COMPLAINED,
          "unsubscribed": EventType.MESSAGE_UNSUBSCRIBED}


def configure(signing_key: str | None = None, **_: Any) -> dict[str, Any]:
    if not signing_key or len(signing_key.strip()) < 16:
        raise BadCredentials("mailgun needs --signing-key (the HTTP webhook signing key, Sending → Webhooks)")
    return {"signing_key": signing_key.strip()}


def verify(data: Any, settings: dict[str, Any]) -> None:
    signed = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(signed, dict):
        raise Unauthorized("the request carries no Mailgun signature")
    timestamp, token, signature = (str(signed.get(k) or "") for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and signature):
        raise Unauthorized("the Mailgun signature needs timestamp, token and signature")
    expected = hmac.new(settings["signing_key"].encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise Unauthorized("the signature does not match this store's Mailgun signing key")


def parse(request: WebhookRequest, settings: dict[str, Any]) -> Feedback:
    data = request.json()
    verify(data, settings)
    event = data.get("event-data")
    if not isinstance(event, dict):
        raise Malformed("event-data is missing")
    headers = mapping(mapping(event.get("message")).get("headers"))
    status = mapping(event.get("delivery-status"))
    if event.get("event") == "delivered":
        return Feedback(statuses=[delivered(NAME, unix_time(event.get("timestamp"), "event-data.timestamp"),
                                            status.get("message"), message_id=angle(headers.get("message-id")))])
    kind = EVENTS.get(str(event.get("event")))
    if kind is None:
        return Feedback()
    description = " ".join(str(x) for x in (status.get("code"), status.get("description") or status.get("message"),
                                            event.get("reason")) if x).strip()
    return Feedback(bounces=[Bounce(
        type=kind, provider=NAME,
        provider_event_id=text(event.get("id"), "event-data.id"),
        recipient=address(event.get("recipient"), "event-data.recipient"),
        hard=kind is not EventType.MESSAGE_BOUNCED or event.get("severity") == "permanent",
        occurred_at=unix_time(event.get("timestamp"), "event-data.timestamp"),
        message_id=angle(headers.get("message-id")), description=description, raw=data)])

"""SendGrid Event Webhook, signed (ECDSA P-256 over SHA-256 of timestamp + body).

The store's verification key is the base64 public key SendGrid shows under *Mail Settings →
Signed Event Webhook*.  The body is a JSON array of events; ``bounce`` (``type: bounce`` is
hard, ``type: blocked`` is soft), ``spamreport`` and ``unsubscribe`` / ``group_unsubscribe`` are
kept as events; ``delivered`` marks the message delivered; everything else is ignored.

An event names its message three ways: ``sg_message_id`` (SendGrid's id: the ``X-Message-Id`` that
``mail/send`` answered, then ``.filter…``), our Message-ID as the ``afterorder_message_id`` custom
argument (custom arguments come back as top-level fields of each event), and ``smtp-id``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from afterorder.domain import EventType
from afterorder.feedback.base import (
    BadCredentials,
    Bounce,
    Feedback,
    StatusReport,
    WebhookRequest,
    address,
    angle,
    delivered,
    text,
    unix_time,
)
from afterorder.intake.errors import Malformed, Unauthorized

NAME = "sendgrid"
MESSAGE_ID_ARG = "afterorder_message_id"  # the custom argument the sendgrid channel sends our Message-ID in
SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
EVENTS = {"bounce": EventType.MESSAGE_BOUNCED, "spamreport": EventType.MESSAGE_COMPLAINED,
          "unsubscribe": EventType.MESSAGE_UNSUBSCRIBED, "group_unsubscribe": EventType.MESSAGE_UNSUBSCRIBED}


def _public_key(encoded: str) -> ec.EllipticCurvePublicKey:
    try:
        key = load_der_public_key(base64.b64decode("".join(encoded.split()), validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise BadCredentials(f"public_key: not a base64 DER public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise BadCredentials("public_key: SendGrid signs with an elliptic-curve (ECDSA) key")
    return key


def configure(public_key: str | None = None, **_: Any) -> dict[str, Any]:
    if not public_key:
        raise BadCredentials("sendgrid needs --public-key (the Signed Event Webhook verification key)")
    _public_key(public_key)
    return {"public_key": "".join(public_key.split())}


def verify(request: WebhookRequest, settings: dict[str, Any]) -> None:
    signature = request.headers.get(SIGNATURE, "")
    timestamp = request.headers.get(TIMESTAMP, "")
    if not signature or not timestamp:
        raise Unauthorized(f"the request is not signed: {SIGNATURE} and {TIMESTAMP} are required")
    try:
        der = base64.b64decode(signature, validate=True)
        _public_key(settings["public_key"]).verify(der, timestamp.encode() + request.body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise Unauthorized("the signature does not match this store's SendGrid verification key") from exc


def parse(request: WebhookRequest, settings: dict[str, Any]) -> Feedback:
    verify(request, settings)
    data = request.json()
    if not isinstance(data, list):
        raise Malformed("a SendGrid Event Webhook body is a JSON array of events")
    found = Feedback()
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise Malformed(f"event [{index}] is not an object")
        if item.get("event") == "delivered":
            found.statuses.append(_delivered(item, index))
        elif (bounce := _bounce(item, index)) is not None:
            found.bounces.append(bounce)
    return found


def _bounce(item: dict[str, Any], index: int) -> Bounce | None:
    kind = EVENTS.get(str(item.get("event")))
    if kind is None:
        return None
    return Bounce(
        type=kind, provider=NAME,
        provider_event_id=text(item.get("sg_event_id"), f"[{index}].sg_event_id"),
        recipient=address(item.get("email"), f"[{index}].email"),
        hard=kind is not EventType.MESSAGE_BOUNCED or item.get("type", "bounce") == "bounce",
        occurred_at=unix_time(item.get("timestamp"), f"[{index}].timestamp"),
        message_id=_our_id(item), description=" ".join(str(item.get(k) or "") for k in ("status", "reason")).strip(),
        raw=item, provider_message_id=_sendgrid_id(item))


def _delivered(item: dict[str, Any], index: int) -> StatusReport:
    return delivered(NAME, unix_time(item.get("timestamp"), f"[{index}].timestamp"), item.get("response"),
                     provider_message_id=_sendgrid_id(item), message_id=_our_id(item))


def _sendgrid_id(item: dict[str, Any]) -> str | None:
    """``X-Message-Id`` of the send: ``sg_message_id`` up to its first dot."""
    found = item.get("sg_message_id")
    return found.split(".", 1)[0] if isinstance(found, str) and found.strip(".") else None


def _our_id(item: dict[str, Any]) -> str | None:
    return angle(item.get(MESSAGE_ID_ARG)) or angle(item.get("smtp-id"))

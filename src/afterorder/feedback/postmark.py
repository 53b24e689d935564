"""Postmark bounce, spam-complaint and delivery webhooks.  Postmark does not sign its webhooks; it
sends the HTTP basic-auth credentials put in the webhook URL, so each store sets a user name and
password (only the password's SHA-256 is kept) and a request without them gets 401.

A ``Delivery`` record marks its message delivered, found by Postmark's ``MessageID`` (what
``/email/batch`` answered for it) or by our Message-ID when the message carried it in its
``Metadata`` as ``afterorder_message_id``.  Postmark's webhook reference names the fields
(``RecordType``, ``MessageID``, ``Recipient``, ``DeliveredAt``, ``Details``, ``Metadata``); no
sample body of Postmark's own was at hand, so the tests build one from those fields.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

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
    iso_time,
    mapping,
    optional_text,
)
from afterorder.intake.errors import Malformed, Unauthorized

NAME = "postmark"
HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
COMPLAINT = {"SpamComplaint"}
MESSAGE_ID_KEY = "afterorder_message_id"  # in Metadata: our Message-ID
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def configure(username: str | None = None, password: str | None = None, **_: Any) -> dict[str, Any]:
    if not username or not password or len(password) < 12:
        raise BadCredentials("postmark needs --username and --password (at least 12 characters) for basic auth")
    return {"username": username, "password_sha256": hashlib.sha256(password.encode()).hexdigest()}


def verify(request: WebhookRequest, settings: dict[str, Any]) -> None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("Postmark webhooks need basic auth: put user:password@ in the webhook URL")
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unauthorized("the basic auth header is not readable") from None
    good_user = hmac.compare_digest(user.encode(), str(settings["username"]).encode())
    good_password = hmac.compare_digest(hashlib.sha256(password.encode()).hexdigest(), settings["password_sha256"])
    if not (good_user and good_password):
        raise Unauthorized("wrong user name or password for this store's Postmark webhook")


def parse(request: WebhookRequest, settings: dict[str, Any]) -> Feedback:
    verify(request, settings)
    data = request.json()
    if not isinstance(data, dict):
        raise Malformed("a Postmark webhook body is a JSON object")
    record = data.get("RecordType")
    if record == "Delivery":
        return Feedback(statuses=[_delivery(data)])
    if record in ("Bounce", "SpamComplaint"):
        return Feedback(bounces=[_bounce(data)])
    return Feedback()


def _bounce(data: dict[str, Any]) -> Bounce:
    kind = data.get("Type")
    complaint = data.get("RecordType") == "SpamComplaint" or kind in COMPLAINT
    if data.get("ID") is None:
        raise Malformed("ID is missing")
    content = str(data.get("Content") or "")
    found = _MESSAGE_ID.search(content)
    return Bounce(
        type=EventType.MESSAGE_COMPLAINED if complaint else EventType.MESSAGE_BOUNCED, provider=NAME,
        provider_event_id=str(data["ID"]), recipient=address(data.get("Email"), "Email"),
        hard=complaint or kind in HARD, occurred_at=iso_time(data.get("BouncedAt"), "BouncedAt"),
        message_id=angle(found.group(1)) if found else None,
        description=" ".join(str(x) for x in (kind, data.get("Description") or data.get("Details")) if x),
        raw=data, provider_message_id=optional_text(data.get("MessageID")))


def _delivery(data: dict[str, Any]) -> StatusReport:
    postmark_id = optional_text(data.get("MessageID"))
    ours = angle(mapping(data.get("Metadata")).get(MESSAGE_ID_KEY))
    if postmark_id is None and ours is None:
        raise Malformed("MessageID is missing")
    return delivered(NAME, iso_time(data.get("DeliveredAt"), "DeliveredAt"), data.get("Details"),
                     provider_message_id=postmark_id, message_id=ours)

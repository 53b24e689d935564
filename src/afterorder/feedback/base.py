"""What every feedback receiver works with: the request as it came (raw body, lower-case headers)
and what a provider's adapter reads from it, whatever the provider:

* :class:`Bounce`: one recipient's bounce, complaint or unsubscribe (stored as a ``message.*`` event);
* :class:`StatusReport`: the provider's delivery status of one message (kept on its outbox row);

plus small readers that name the field when a payload is not what the provider sends.  A refused
request raises one of ``afterorder.intake.errors`` (the tree the platform intake shares):
``Unauthorized`` 401, ``Malformed`` 400, ``UnknownTarget`` / ``NotConfigured`` 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from afterorder.domain import EventType
from afterorder.intake.errors import Malformed
from afterorder.intake.limits import Refused, read_json


class BadCredentials(ValueError):
    """Credentials given for a provider are incomplete or unusable; the message names the option."""


@dataclass(frozen=True)
class WebhookRequest:
    body: bytes
    headers: Mapping[str, str]  # lower-case names

    def json(self) -> Any:
        try:
            return read_json(self.body)
        except Refused as exc:
            reason = f"the body is not JSON: {exc.cause}" if exc.code == "invalid_json" else exc.message
            raise Malformed(reason) from None


@dataclass(frozen=True)
class Bounce:
    """One recipient's bounce, complaint or unsubscribe, as every provider reports it."""

    type: EventType  # MESSAGE_BOUNCED | MESSAGE_COMPLAINED | MESSAGE_UNSUBSCRIBED
    provider: str
    provider_event_id: str
    recipient: str
    hard: bool  # a bounce that will not go away (unknown user, no such domain); True for the others
    occurred_at: datetime
    message_id: str | None  # the Message-ID header of the message, as we sent it ("<...>")
    description: str
    raw: Any  # the provider's own record for this event
    provider_message_id: str | None = None  # the provider's id for the message (SMS: its only handle)

    @property
    def bounce_kind(self) -> str:
        if self.type is EventType.MESSAGE_COMPLAINED:
            return "complaint"
        if self.type is EventType.MESSAGE_UNSUBSCRIBED:
            return "unsubscribe"
        return "hard" if self.hard else "soft"


class DeliveryStatus(StrEnum):
    """A message's delivery as providers report it, in one vocabulary.  Later states outrank
    earlier ones (``RANK``): a late "sent" never undoes "delivered"."""

    QUEUED = "queued"  # the provider holds it
    SENT = "sent"  # handed to the carrier / receiving server
    DELIVERED = "delivered"  # the handset, mailbox or LINE app has it
    UNDELIVERED = "undelivered"  # the carrier or receiving server gave up
    FAILED = "failed"  # the provider never sent it

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {DeliveryStatus.QUEUED: 0, DeliveryStatus.SENT: 1, DeliveryStatus.DELIVERED: 2,
         DeliveryStatus.UNDELIVERED: 2, DeliveryStatus.FAILED: 2}


@dataclass(frozen=True)
class StatusReport:
    """The provider's word on one message's delivery, with what finds the message: the provider's
    id for it (``outbox.provider_message_id``) or ours (its Message-ID)."""

    provider: str
    status: DeliveryStatus
    occurred_at: datetime
    provider_message_id: str | None = None
    message_id: str | None = None
    detail: str = ""  # the provider's code or words ("30005", "DELIVERED 用户接收成功")


@dataclass(frozen=True)
class Feedback:
    """All one request says: bounces to store as events, statuses to put on messages."""

    bounces: list[Bounce] = field(default_factory=list)
    statuses: list[StatusReport] = field(default_factory=list)


def delivered(provider: str, at: datetime, detail: object = None, *, provider_message_id: str | None = None,
              message_id: str | None = None) -> StatusReport:
    """The provider's word that a message reached its recipient; ``detail`` is what it said (its
    SMTP answer, …), kept to 255 characters."""
    return StatusReport(provider, DeliveryStatus.DELIVERED, at, provider_message_id, message_id,
                        str(detail or "")[:255])


def angle(message_id: str | None) -> str | None:
    """A Message-ID in angle brackets, however the provider wrote it."""
    if not message_id or not isinstance(message_id, str):
        return None
    value = message_id.strip()
    if not value:
        return None
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Malformed(f"{name} is missing or not text")
    return value.strip()


def optional_text(value: Any) -> str | None:
    """``value`` trimmed when it is text with something in it, else ``None`` (an optional id)."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def address(value: Any, name: str) -> str:
    """A recipient address as the provider reports it (checked to be one, not normalised)."""
    found = text(value, name)
    if len(found) > 320 or "@" not in found or any(c.isspace() for c in found):
        raise Malformed(f"{name} is not an email address: {found[:80]!r}")
    return found


_FRACTION = re.compile(r"(\.\d{6})\d+")


def iso_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise Malformed(f"{name} is missing")
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"{name} is not a time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (for optional parts of a payload)."""
    return value if isinstance(value, dict) else {}


def unix_time(value: Any, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError):
        raise Malformed(f"{name} is not a Unix time: {value!r}") from None

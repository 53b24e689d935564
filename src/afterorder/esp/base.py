"""What every provider adapter gives back, and the errors a webhook answers with.

Errors are drawn here, once:

* :class:`Unauthorized` (401): the signature or credentials do not check out; nothing is stored;
* :class:`Malformed` (400): the request is not what the provider sends;
* :class:`NotConfigured` (404): the store has no credentials for this provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from afterorder.domain import EventType


class WebhookError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(WebhookError):
    status = 401
    code = "unauthorized"


class Malformed(WebhookError):
    status = 400
    code = "malformed"


class NotConfigured(WebhookError):
    status = 404
    code = "not_configured"


class BadCredentials(ValueError):
    """Credentials given for a provider are incomplete or unusable; the message names the option."""


@dataclass(frozen=True)
class WebhookRequest:
    body: bytes
    headers: Mapping[str, str]  # lower-case names

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Malformed(f"the body is not JSON: {exc}") from None


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

    @property
    def bounce_kind(self) -> str:
        if self.type is EventType.MESSAGE_COMPLAINED:
            return "complaint"
        if self.type is EventType.MESSAGE_UNSUBSCRIBED:
            return "unsubscribe"
        return "hard" if self.hard else "soft"


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

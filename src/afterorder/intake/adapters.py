"""Store platform webhooks: one adapter per platform behind one fixed pipeline.

A delivery goes ``verify`` (signature over the raw body bytes) → ``parse`` (JSON, topic, delivery
id) → ``normalize`` (a list of typed ``Event`` plus what to remember about the store's orders and
stock).  Platform quirks live in each adapter's lookup tables; a topic an adapter does not map is
answered 200 and recorded as ignored, never an error.

Adapters keep no database code: what they need to know from earlier deliveries (an order's last
status, an item's last stock level) comes through the ``Memory`` they are handed, and what they
learn goes back as ``Remembered`` values that the receiver writes once the events are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from afterorder.domain import Connection, Event, ItemSeen, Remembered
from afterorder.intake.errors import Malformed
from afterorder.intake.limits import Refused, read_json


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery, parsed."""

    platform: str
    topic: str
    delivery_id: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    payload: Any
    received_at: datetime


class Memory(Protocol):
    """What earlier deliveries of this store and platform told us."""

    async def order_status(self, order_id: str) -> str | None: ...

    async def item(self, item_id: str) -> ItemSeen | None: ...


@dataclass
class Normalized:
    """What a delivery means: events to store, facts to remember, or why it was ignored."""

    events: list[Event] = field(default_factory=list)
    remember: Sequence[Remembered] = ()
    ignored: str | None = None


class PlatformAdapter(Protocol):
    """One store platform.  Adding a platform is a module implementing this and one registry line."""

    name: str
    topics: Mapping[str, Any]  # the platform's topics this adapter understands (its lookup table)
    subscribe: Sequence[str]  # the topics a store owner should subscribe to (for `store connect`)
    needs_secret: bool  # connecting needs the webhook secret
    needs_api_url: bool  # connecting needs the platform's API URL (where its public keys are)

    def ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Is this an unsigned 'are you there' request that only needs a 200?"""
        ...

    async def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        """Raise ``Unauthorized`` unless the raw body is signed by this store."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes, received_at: datetime) -> Delivery:
        """Topic, delivery id and JSON payload; ``Malformed`` when the body cannot be read."""
        ...

    async def normalize(self, delivery: Delivery, memory: Memory) -> Normalized:
        """The delivery as events (an empty list with ``ignored`` set when it means nothing to us)."""
        ...


# ---- helpers the adapters share -------------------------------------------------------------


def hmac_sha256(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def base64_hmac_matches(given: str | None, body: bytes, secrets: Sequence[str]) -> bool:
    """``given`` is base64(HMAC-SHA256(secret, body)) for one of ``secrets``; compared in constant time."""
    if not given:
        return False
    try:
        decoded = base64.b64decode(given.strip(), validate=True)
    except ValueError:
        return False
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(decoded, hmac_sha256(secret, body))
    return found


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def load_json(body: bytes) -> Any:
    """The body's JSON; ``Malformed`` when it is not JSON or breaks a limit of ``intake.limits``."""
    try:
        return read_json(body)
    except Refused as exc:
        raise Malformed(exc.message) from None


def need(payload: Any, key: str, what: str) -> Any:
    """``payload[key]``, or a ``Malformed`` saying which field the topic needs."""
    if not isinstance(payload, dict):
        raise Malformed(f"{what}: expected a JSON object, got {type(payload).__name__}")
    value = payload.get(key)
    if value is None or value == "":
        raise Malformed(f"{what}: the field {key!r} is missing")
    return value


def need_id(payload: Any, key: str, what: str) -> str:
    """A required id (platforms send numbers or strings) as a string."""
    value = text(need(payload, key, what))
    if value is None:
        raise Malformed(f"{what}: the field {key!r} is not an id")
    return value


def obj(value: Any) -> dict[str, Any]:
    """A nested object, or an empty one when the platform sent null / nothing."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A non-empty string (numbers become strings: platform ids are often numbers), else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def money(value: Any) -> Decimal | None:
    """A decimal amount from "12.50", 12.5 or 12; ``None`` when absent."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Malformed(f"{value!r} is not an amount") from None
    return amount


def timestamp(value: Any, *, assume_utc: bool = False) -> datetime | None:
    """An ISO 8601 time; naive ones are UTC only when the platform documents them so (``assume_utc``)."""
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise Malformed(f"{value!r} is not a time") from None
    if parsed.tzinfo is None:
        if not assume_utc:
            raise Malformed(f"{value!r} has no time zone offset")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def country_code(value: Any) -> str | None:
    code = text(value)
    return code.upper() if code and len(code) == 2 and code.isalpha() else None


def locale_tag(value: Any) -> str | None:
    """A language code as platforms send it ("ja", "ja-JP", "JA", "ZH_HANS") as a BCP 47 tag."""
    raw = text(value)
    if not raw:
        return None
    parts = raw.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4:
            out.append(part.title())
        elif len(part) == 2:
            out.append(part.upper())
        else:
            out.append(part.lower())
    tag = "-".join(out)
    return tag if 2 <= len(parts[0]) <= 3 and parts[0].isalpha() else None


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}

"""Stores: the tenants.  Each has its own API key (only its hash is kept) and its own key for the
links it sends, stored sealed (``signing_key`` as stored; ``afterorder.keys.signers`` opens it)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import stores
from afterorder.domain import StoreSnapshot
from afterorder.keys.sealing import Sealer
from afterorder.keys.stored import seal_value
from afterorder.signing import new_signing_key

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class StoreError(ValueError):
    """A store could not be created as asked; the message names the field."""


@dataclass(frozen=True)
class StoreRow:
    id: int
    slug: str
    name: str
    email_from: str
    reply_to: str
    country: str
    locale: str
    timezone: str
    currency: str
    postal_address: str
    support_email: str
    support_phone: str
    support_url: str
    brand_color: str
    logo_url: str
    api_key_prefix: str
    signing_key: str = field(repr=False)  # as stored: sealed (or plain, from an older version)
    created_at: datetime

    def snapshot(self, base_url: str) -> StoreSnapshot:
        return StoreSnapshot(
            slug=self.slug, name=self.name, email_from=self.email_from, reply_to=self.reply_to,
            country=self.country, locale=self.locale, timezone=self.timezone, currency=self.currency,
            postal_address=self.postal_address, support_email=self.support_email,
            support_phone=self.support_phone, support_url=self.support_url,
            brand_color=self.brand_color, logo_url=self.logo_url, base_url=base_url,
        )

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("signing_key")
        data["created_at"] = self.created_at.isoformat()
        return data


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def validate_store_fields(fields: dict[str, Any]) -> None:
    problems: list[str] = []
    if not SLUG.match(fields["slug"]):
        problems.append("slug: use lowercase letters, digits and '-' (at most 63)")
    if not fields["name"].strip():
        problems.append("name: must not be empty")
    for key in ("email_from", "reply_to"):
        if not EMAIL.match(fields[key]):
            problems.append(f"{key}: {fields[key]!r} is not an email address")
    if fields["reply_to"].split("@")[0].lower().replace("-", "").replace("_", "") in ("noreply", "donotreply"):
        problems.append("reply_to: customers must be able to answer; give a real mailbox, not no-reply")
    if fields.get("support_email") and not EMAIL.match(fields["support_email"]):
        problems.append(f"support_email: {fields['support_email']!r} is not an email address")
    if not re.match(r"^[A-Z]{2}$", fields["country"]):
        problems.append("country: use an ISO 3166 code such as JP, US, CN")
    if not re.match(r"^[A-Z]{3}$", fields["currency"]):
        problems.append("currency: use an ISO 4217 code such as JPY, USD, CNY")
    try:
        ZoneInfo(fields["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown time zone {fields['timezone']!r}")
    if not COLOR.match(fields["brand_color"]):
        problems.append("brand_color: use #rrggbb")
    if problems:
        raise StoreError("\n  ".join(["the store was not created:", *problems]))


async def create_store(conn: AsyncConnection, now: datetime, *, sealer: Sealer | None = None,
                       **fields: Any) -> tuple[StoreRow, str]:
    """Create a store; returns the row and its API key (shown once).  Its signing key is sealed with
    ``sealer`` (without one it is stored plain, as older versions did, and sealed at the next start)."""
    fields.setdefault("reply_to", fields["email_from"])
    fields.setdefault("country", "US")
    fields.setdefault("locale", "en")
    fields.setdefault("timezone", "UTC")
    fields.setdefault("currency", "USD")
    fields.setdefault("brand_color", "#1f6feb")
    fields["country"] = fields["country"].upper()
    fields["currency"] = fields["currency"].upper()
    for key in ("postal_address", "support_email", "support_phone", "support_url", "logo_url"):
        fields.setdefault(key, "")
    validate_store_fields(fields)
    api_key = "ao_" + secrets.token_urlsafe(32)
    try:
        await conn.execute(
            stores.insert().values(
                **fields, api_key_hash=hash_key(api_key), api_key_prefix=api_key[:10],
                signing_key=_signing_key(sealer), created_at=now,
            )
        )
    except IntegrityError as exc:
        raise StoreError(f"slug: a store called {fields['slug']!r} already exists") from exc
    row = await get_store(conn, fields["slug"])
    assert row is not None
    return row, api_key


def _signing_key(sealer: Sealer | None) -> str:
    key = new_signing_key()
    return seal_value(sealer, key) or key if sealer is not None else key


def _row(mapping: Any) -> StoreRow:
    data = dict(mapping)
    data.pop("api_key_hash", None)
    return StoreRow(**data)


async def get_store(conn: AsyncConnection, slug: str) -> StoreRow | None:
    result = await conn.execute(select(stores).where(stores.c.slug == slug))
    found = result.mappings().first()
    return _row(found) if found else None


async def get_store_by_id(conn: AsyncConnection, store_id: int) -> StoreRow | None:
    result = await conn.execute(select(stores).where(stores.c.id == store_id))
    found = result.mappings().first()
    return _row(found) if found else None


async def store_for_api_key(conn: AsyncConnection, api_key: str) -> StoreRow | None:
    result = await conn.execute(select(stores).where(stores.c.api_key_hash == hash_key(api_key)))
    found = result.mappings().first()
    return _row(found) if found else None


async def list_stores(conn: AsyncConnection) -> list[StoreRow]:
    result = await conn.execute(select(stores).order_by(stores.c.slug))
    return [_row(m) for m in result.mappings()]

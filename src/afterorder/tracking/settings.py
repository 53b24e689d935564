"""Per-store tracking settings: attribution window, whether opens count, the store's own domains."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import tracking_settings
from afterorder.db.stores import StoreRow

DEFAULT_ATTRIBUTION_DAYS = 5
CACHE_SECONDS = 60.0
_DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")


class TrackingSettingsError(ValueError):
    """A setting was given a value it cannot take; the message names it."""


@dataclass(frozen=True)
class TrackingSettings:
    attribution_days: int = DEFAULT_ATTRIBUTION_DAYS
    attribute_opens: bool = False
    track_opens: bool = True
    track_clicks: bool = True
    domains: tuple[str, ...] = field(default_factory=tuple)  # the store's own sites: links there get UTM


def default_domains(store: StoreRow) -> tuple[str, ...]:
    """The store's sending domain and the host of its support URL (``www.`` dropped)."""
    found = [store.email_from.rsplit("@", 1)[-1].lower()]
    if store.support_url:
        host = (urlsplit(store.support_url).hostname or "").lower()
        if host:
            found.append(host.removeprefix("www."))
    return tuple(dict.fromkeys(found))


def on_domain(host: str | None, domains: tuple[str, ...]) -> bool:
    host = (host or "").lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


async def load_settings(conn: AsyncConnection, store: StoreRow) -> TrackingSettings:
    row = (await conn.execute(select(tracking_settings).where(tracking_settings.c.store_id == store.id))).first()
    if row is None:
        return TrackingSettings(domains=default_domains(store))
    return TrackingSettings(row.attribution_days, bool(row.attribute_opens), bool(row.track_opens),
                            bool(row.track_clicks), tuple(row.domains) or default_domains(store))


async def save_settings(conn: AsyncConnection, store: StoreRow, now: datetime, *, attribution_days: int | None = None,
                        attribute_opens: bool | None = None, track_opens: bool | None = None,
                        track_clicks: bool | None = None, domains: list[str] | None = None) -> TrackingSettings:
    """Change the given settings (the others keep their values); returns the result."""
    current = await load_settings(conn, store)
    if attribution_days is not None and not 0 < attribution_days <= 90:
        raise TrackingSettingsError("attribution_days: give a number of days from 1 to 90")
    cleaned = None
    if domains is not None:
        cleaned = [d.strip().lower().removeprefix("www.") for d in domains if d.strip()]
        bad = [d for d in cleaned if not _DOMAIN.match(d)]
        if bad:
            raise TrackingSettingsError(f"domains: {', '.join(bad)} is not a domain name such as shop.example")
    values = {
        "attribution_days": current.attribution_days if attribution_days is None else attribution_days,
        "attribute_opens": current.attribute_opens if attribute_opens is None else attribute_opens,
        "track_opens": current.track_opens if track_opens is None else track_opens,
        "track_clicks": current.track_clicks if track_clicks is None else track_clicks,
        "domains": list(current.domains) if cleaned is None else cleaned,
        "updated_at": now,
    }
    exists = (await conn.execute(select(tracking_settings.c.store_id)
                                 .where(tracking_settings.c.store_id == store.id))).first()
    if exists:
        await conn.execute(tracking_settings.update().where(tracking_settings.c.store_id == store.id).values(**values))
    else:
        await conn.execute(tracking_settings.insert().values(store_id=store.id, **values))
    return await load_settings(conn, store)


class TrackingSettingsCache:
    """Settings re-read at most once a minute per store (the scheduler renders many messages)."""

    def __init__(self) -> None:
        self._cached: dict[int, tuple[TrackingSettings, float]] = {}

    async def get(self, conn: AsyncConnection, store: StoreRow) -> TrackingSettings:
        hit = self._cached.get(store.id)
        if hit is None or hit[1] < time.monotonic():
            hit = (await load_settings(conn, store), time.monotonic() + CACHE_SECONDS)
            self._cached[store.id] = hit
        return hit[0]

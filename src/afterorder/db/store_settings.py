"""Store settings the dashboard edits (``store_settings``): the store's industry for benchmarks, and
where its customers' delivery notes are posted (``order_page.note_webhook``)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import store_settings
from afterorder.domain import check_industry


async def industry_of(conn: AsyncConnection, store_id: int) -> str | None:
    found = (await conn.execute(select(store_settings.c.industry)
                                .where(store_settings.c.store_id == store_id))).scalar()
    return str(found) if found else None


async def set_industry(conn: AsyncConnection, store_id: int, industry: str, now: datetime) -> str:
    """Set the industry (one of the benchmark table's); raises IndustryError for another."""
    name = check_industry(industry)
    changed = await conn.execute(update(store_settings).where(store_settings.c.store_id == store_id)
                                 .values(industry=name, updated_at=now))
    if changed.rowcount == 0:
        await conn.execute(store_settings.insert().values(store_id=store_id, industry=name, updated_at=now))
    return name


class WebhookUrlError(ValueError):
    """Not an http(s) address a webhook can be posted to."""


MAX_URL = 2000


def check_webhook_url(url: str) -> str:
    """``url`` stripped, when it is an absolute http(s) address with a host; else WebhookUrlError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL or any(
            ch.isspace() for ch in url):
        raise WebhookUrlError(f"{url!r} is not an http:// or https:// address (at most {MAX_URL} characters)")
    return url


async def delivery_note_webhook_of(conn: AsyncConnection, store_id: int) -> str | None:
    found = (await conn.execute(select(store_settings.c.delivery_note_webhook)
                                .where(store_settings.c.store_id == store_id))).scalar()
    return str(found) if found else None


async def set_delivery_note_webhook(conn: AsyncConnection, store_id: int, url: str | None, now: datetime
                                    ) -> str | None:
    """Post the store's delivery notes to ``url`` from now on (None or "": to nowhere); WebhookUrlError
    for an address that is not http(s)."""
    value = check_webhook_url(url) if url else None
    changed = await conn.execute(update(store_settings).where(store_settings.c.store_id == store_id)
                                 .values(delivery_note_webhook=value, updated_at=now))
    if changed.rowcount == 0:
        await conn.execute(store_settings.insert().values(store_id=store_id, delivery_note_webhook=value,
                                                          updated_at=now))
    return value

"""Per-store webhook credentials, one row per provider."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import esp_credentials
from afterorder.feedback import mailgun, postmark, sendgrid, ses
from afterorder.feedback.base import BadCredentials

CONFIGURE: dict[str, Callable[..., dict[str, Any]]] = {
    "ses": ses.configure, "sendgrid": sendgrid.configure, "postmark": postmark.configure, "mailgun": mailgun.configure}
PROVIDERS = tuple(CONFIGURE)


async def set_credentials(conn: AsyncConnection, store_id: int, provider: str, now: datetime,
                          **options: Any) -> dict[str, Any]:
    """Check and store a provider's credentials for the store; returns what was stored."""
    if provider not in CONFIGURE:
        raise BadCredentials(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    settings = CONFIGURE[provider](**options)
    updated = await conn.execute(esp_credentials.update().where(
        esp_credentials.c.store_id == store_id, esp_credentials.c.provider == provider,
    ).values(settings=settings, updated_at=now))
    if updated.rowcount == 0:
        await conn.execute(esp_credentials.insert().values(store_id=store_id, provider=provider, settings=settings,
                                                           updated_at=now))
    return settings


async def get_credentials(conn: AsyncConnection, store_id: int, provider: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(esp_credentials.c.settings).where(
        esp_credentials.c.store_id == store_id, esp_credentials.c.provider == provider))).first()
    return {str(k): v for k, v in row.settings.items()} if row else None

"""Per-store webhook credentials, one row per provider; Mailgun's signing key is stored sealed
(``afterorder.keys.stored``) and opened when read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import esp_credentials
from afterorder.feedback import mailgun, postmark, sendgrid, ses
from afterorder.feedback.base import BadCredentials
from afterorder.keys.sealing import Sealer
from afterorder.keys.stored import SealerOf, open_esp_settings, seal_esp_settings

CONFIGURE: dict[str, Callable[..., dict[str, Any]]] = {
    "ses": ses.configure, "sendgrid": sendgrid.configure, "postmark": postmark.configure, "mailgun": mailgun.configure}
PROVIDERS = tuple(CONFIGURE)


async def set_credentials(conn: AsyncConnection, store_id: int, provider: str, now: datetime, *, sealer: Sealer,
                          **options: Any) -> dict[str, Any]:
    """Check and store a provider's credentials for the store; returns them (in clear: not to be shown)."""
    if provider not in CONFIGURE:
        raise BadCredentials(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    settings = CONFIGURE[provider](**options)
    stored = seal_esp_settings(sealer, settings)
    updated = await conn.execute(esp_credentials.update().where(
        esp_credentials.c.store_id == store_id, esp_credentials.c.provider == provider,
    ).values(settings=stored, updated_at=now))
    if updated.rowcount == 0:
        await conn.execute(esp_credentials.insert().values(store_id=store_id, provider=provider, settings=stored,
                                                           updated_at=now))
    return settings


async def get_credentials(conn: AsyncConnection, store_id: int, provider: str, *,
                          sealer: Sealer | SealerOf | None) -> dict[str, Any] | None:
    """The provider's credentials, secrets opened (``SealError`` if the configured key cannot)."""
    row = (await conn.execute(select(esp_credentials.c.settings).where(
        esp_credentials.c.store_id == store_id, esp_credentials.c.provider == provider))).first()
    return open_esp_settings(sealer, {str(k): v for k, v in row.settings.items()}) if row else None

"""Store settings the dashboard edits (``store_settings``): the store's industry for benchmarks."""

from __future__ import annotations

from datetime import datetime

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

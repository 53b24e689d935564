"""How long the audit log is kept: entries older than ``[audit] retention_days`` (default 400 days,
``serve`` / ``worker --audit-retention-days``) are deleted by the runtime's periodic maintenance
(``Runtime._daily_jobs``, hourly), so a store's history of changes covers at least a year and a
month and the table does not grow without end.

Deleted per store, oldest first, a few thousand rows per statement (index ``(store_id, at)``), so a
first prune of a long history never holds a long lock.  Age is the entry's ``at`` against the
runtime's clock.  Entries younger than the limit are never touched, whatever they name: an erased
customer's entries stay (they hold the internal id only, never the customer's data).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.db.schema import audit_log, stores

DEFAULT_RETENTION_DAYS: Final = 400
MIN_RETENTION_DAYS: Final = 1
MAX_RETENTION_DAYS: Final = 36_500
CHUNK: Final = 5_000  # rows one DELETE removes


async def prune_audit(engine: AsyncEngine, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Delete the entries recorded more than ``retention_days`` before ``now``; returns how many."""
    cutoff = now - timedelta(days=retention_days)
    async with engine.connect() as conn:
        store_ids = [int(s) for (s,) in await conn.execute(select(stores.c.id))]
    removed = 0
    for store_id in store_ids:
        while True:
            oldest = (select(audit_log.c.id).where(audit_log.c.store_id == store_id, audit_log.c.at < cutoff)
                      .order_by(audit_log.c.at).limit(CHUNK))
            async with engine.begin() as conn:
                gone = (await conn.execute(delete(audit_log).where(
                    audit_log.c.store_id == store_id, audit_log.c.id.in_(oldest.scalar_subquery())))).rowcount
            removed += gone
            if gone < CHUNK:
                break
    return removed

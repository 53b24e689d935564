"""Webhooks that carry ids only (Ecwid, EC-CUBE), recorded before they are answered and fetched afterwards.

``record`` writes a delivery once per (store, platform, event id): a replayed event id is answered as a
duplicate and fetched no second time; ``waiting`` says whether an entity is already waiting to be
fetched (EC-CUBE's notices have no event id: a second notice about it is then a duplicate).
``claim_due`` takes rows that are due with a lease (``claimed_until``), so several worker processes
never fetch one row at once and a crashed worker's rows come back when the lease ends; ``finish`` and
``retry_later`` end a claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.db.schema import platform_fetches
from afterorder.db.statements import insert_ignore

COLUMNS = ("store_id", "platform", "event_id", "topic", "entity_id", "status", "attempts", "next_attempt_at",
           "raw", "received_at")


@dataclass(frozen=True)
class Fetch:
    """One recorded delivery to fetch: which store, what event, which entity, how often tried."""

    id: int
    store_id: int
    platform: str
    event_id: str
    topic: str
    entity_id: str
    attempts: int
    raw: Any
    received_at: datetime


async def record(engine: AsyncEngine, store_id: int, platform: str, event_id: str, topic: str, entity_id: str,
                 raw: Any, now: datetime) -> bool:
    """Record a delivery to fetch now; False when this event id was recorded before (a replay)."""
    async with engine.begin() as conn:
        result = await conn.execute(insert_ignore(platform_fetches, COLUMNS), {
            "store_id": store_id, "platform": platform, "event_id": event_id[:255], "topic": topic[:128],
            "entity_id": entity_id[:255], "status": "pending", "attempts": 0, "next_attempt_at": now, "raw": raw,
            "received_at": now})
    return bool(result.rowcount)


async def waiting(engine: AsyncEngine, store_id: int, platform: str, topic: str, entity_id: str, now: datetime
                  ) -> bool:
    """Is a fetch of this entity for this topic recorded and not yet started?  (One being fetched may have
    read the entity before the change a new notice reports: that notice is no duplicate.)"""
    async with engine.connect() as conn:
        found = (await conn.execute(select(platform_fetches.c.id).where(
            platform_fetches.c.store_id == store_id, platform_fetches.c.platform == platform,
            platform_fetches.c.status == "pending", platform_fetches.c.topic == topic[:128],
            platform_fetches.c.entity_id == entity_id[:255],
            or_(platform_fetches.c.claimed_until.is_(None), platform_fetches.c.claimed_until < now)).limit(1))).first()
    return found is not None


async def claim_due(engine: AsyncEngine, platform: str, now: datetime, lease: timedelta, limit: int = 20
                    ) -> list[Fetch]:
    """Pending rows due by ``now`` that no other worker holds, each claimed until ``now + lease``."""
    free = or_(platform_fetches.c.claimed_until.is_(None), platform_fetches.c.claimed_until < now)
    due = and_(platform_fetches.c.platform == platform, platform_fetches.c.status == "pending",
               platform_fetches.c.next_attempt_at <= now, free)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(platform_fetches).where(due).order_by(platform_fetches.c.next_attempt_at)
                                   .limit(limit))).mappings().all()
    claimed = []
    async with engine.begin() as conn:
        for row in rows:
            taken = await conn.execute(update(platform_fetches).where(platform_fetches.c.id == row["id"], due)
                                       .values(claimed_until=now + lease))
            if taken.rowcount:
                claimed.append(Fetch(id=row["id"], store_id=row["store_id"], platform=row["platform"],
                                     event_id=row["event_id"], topic=row["topic"], entity_id=row["entity_id"],
                                     attempts=row["attempts"], raw=row["raw"], received_at=row["received_at"]))
    return claimed


async def finish(engine: AsyncEngine, fetch_id: int, now: datetime, *, failed: str | None = None,
                 attempts: int | None = None) -> None:
    """Done (or ``failed`` for good, with why): never fetched again."""
    values: dict[str, Any] = {"status": "failed" if failed else "done", "done_at": now, "claimed_until": None,
                              "last_error": failed}
    if attempts is not None:
        values["attempts"] = attempts
    async with engine.begin() as conn:
        await conn.execute(update(platform_fetches).where(platform_fetches.c.id == fetch_id).values(**values))


async def retry_later(engine: AsyncEngine, fetch_id: int, at: datetime, error: str, attempts: int) -> None:
    """Fetch again at ``at``; ``attempts`` counts failures (a rate limit answer is a delay: not counted)."""
    async with engine.begin() as conn:
        await conn.execute(update(platform_fetches).where(platform_fetches.c.id == fetch_id).values(
            next_attempt_at=at, last_error=error, attempts=attempts, claimed_until=None))

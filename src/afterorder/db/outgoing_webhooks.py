"""The queue of webhooks out to the stores' own systems (``outgoing_webhooks``).

``queue`` writes a webhook once per (store, idempotency key), in its caller's transaction (the
intake's, beside the event it carries: an event stored is a webhook queued, nothing in memory).
``claim_due`` takes pending rows that are due with a lease (``claimed_until``), so several workers
never post one row at once and a killed worker's rows come back when its lease ends; ``finish``
and ``retry_later`` end a claim.  The body is stored as the bytes to send: every attempt posts the
same body under the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.schema import outgoing_webhooks
from afterorder.db.statements import insert_ignore

COLUMNS = ("store_id", "idempotency_key", "topic", "url", "body", "status", "attempts", "next_attempt_at",
           "created_at")


@dataclass(frozen=True)
class OutgoingWebhook:
    """One webhook to post: where, what, under which key, how often tried."""

    id: int
    store_id: int
    idempotency_key: str
    topic: str
    url: str
    body: str
    attempts: int


async def queue(conn: AsyncConnection, store_id: int, key: str, topic: str, url: str, body: str,
                now: datetime) -> bool:
    """Queue a webhook due now; False when one with this key was queued before."""
    result = await conn.execute(insert_ignore(outgoing_webhooks, COLUMNS), {
        "store_id": store_id, "idempotency_key": key[:255], "topic": topic[:64], "url": url, "body": body,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})
    return bool(result.rowcount)


async def claim_due(engine: AsyncEngine, now: datetime, lease: timedelta, limit: int = 20) -> list[OutgoingWebhook]:
    """Pending rows due by ``now`` that no other worker holds, each claimed until ``now + lease``."""
    free = or_(outgoing_webhooks.c.claimed_until.is_(None), outgoing_webhooks.c.claimed_until < now)
    due = and_(outgoing_webhooks.c.status == "pending", outgoing_webhooks.c.next_attempt_at <= now, free)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outgoing_webhooks).where(due).order_by(
            outgoing_webhooks.c.next_attempt_at, outgoing_webhooks.c.id).limit(limit))).mappings().all()
    claimed = []
    async with engine.begin() as conn:
        for row in rows:
            taken = await conn.execute(update(outgoing_webhooks).where(outgoing_webhooks.c.id == row["id"], due)
                                       .values(claimed_until=now + lease))
            if taken.rowcount:
                claimed.append(OutgoingWebhook(
                    id=row["id"], store_id=row["store_id"], idempotency_key=row["idempotency_key"],
                    topic=row["topic"], url=row["url"], body=row["body"], attempts=row["attempts"]))
    return claimed


async def finish(engine: AsyncEngine, webhook_id: int, now: datetime, *, attempts: int, code: int | None,
                 failed: str | None = None) -> None:
    """Sent (or ``failed`` for good, with why): never posted again."""
    values: dict[str, Any] = {"status": "failed" if failed else "sent", "claimed_until": None, "last_error": failed,
                              "attempts": attempts, "last_code": code}
    if not failed:
        values["sent_at"] = now
    async with engine.begin() as conn:
        await conn.execute(update(outgoing_webhooks).where(outgoing_webhooks.c.id == webhook_id).values(**values))


async def retry_later(engine: AsyncEngine, webhook_id: int, at: datetime, error: str, *, attempts: int,
                      code: int | None) -> None:
    """Post again at ``at``; ``attempts`` counts failures (a 429 is a delay: not counted)."""
    async with engine.begin() as conn:
        await conn.execute(update(outgoing_webhooks).where(outgoing_webhooks.c.id == webhook_id).values(
            next_attempt_at=at, last_error=error[:2000], attempts=attempts, claimed_until=None, last_code=code))

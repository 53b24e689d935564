"""Quiet hours and frequency caps for marketing messages.

* Quiet hours are local time of the customer (their ``timezone``, else the store's).  A marketing
  message due inside them is deferred to their end, never dropped.
* A cap allows at most N marketing messages per customer per window on a channel.  A message over
  the cap is skipped with the reason ``capped``: sending it later would only pile the flows' mail up
  behind each other, and a message that was not worth its slot is not worth a later one either.
  Messages sent, and those being sent by any worker, count.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.settings import Cap
from afterorder.db.schema import outbox


def _zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_until(now: datetime, start: time | None, end: time | None, timezone: str | None,
                fallback_timezone: str) -> datetime | None:
    """When the quiet hours around ``now`` end (UTC), or None when ``now`` is not in them.

    ``start``–``end`` may run over midnight (21:00–08:00) or not (13:00–14:00)."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(_zone(timezone, fallback_timezone))
    clock = local.time().replace(tzinfo=None)
    overnight = start > end
    inside = (clock >= start or clock < end) if overnight else (start <= clock < end)
    if not inside:
        return None
    day = local.date()
    if overnight and clock >= start:
        day += timedelta(days=1)
    ends = datetime.combine(day, end, tzinfo=local.tzinfo)
    # a wall time skipped by a DST change is read as the next real instant; compare in UTC
    return ends.astimezone(UTC)


async def recent_counts(conn: AsyncConnection, store_id: int, channel: str | None, customer_ids: Iterable[int],
                        cap: Cap, now: datetime, exclude: Iterable[int]) -> dict[int, int]:
    """Marketing messages per customer on ``channel`` (None: on every channel) sent within the cap's
    window, or being sent now by a worker (``exclude`` leaves out the outbox rows being decided)."""
    ids = set(customer_ids)
    if not ids:
        return {}
    since = now - timedelta(hours=cap.window_hours)
    skip = list(exclude)
    query = select(outbox.c.customer_id, func.count()).where(
        outbox.c.store_id == store_id, outbox.c.customer_id.in_(ids), outbox.c.category == "marketing",
        or_(and_(outbox.c.status == "sent", outbox.c.sent_at >= since), outbox.c.status == "sending"),
    ).group_by(outbox.c.customer_id)
    if channel is not None:
        query = query.where(outbox.c.channel == channel)
    if skip:
        query = query.where(outbox.c.id.not_in(skip))
    return {int(r[0]): int(r[1]) for r in await conn.execute(query)}

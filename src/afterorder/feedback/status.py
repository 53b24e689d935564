"""A provider's delivery status, kept on the message it is about (``outbox.provider_status``,
``provider_status_at``, ``provider_status_detail``).

The message is found, within the store, by the provider's id for it (``outbox.provider_message_id``:
what the channel kept from the provider's answer, a Twilio ``SM…`` sid, Alibaba Cloud's ``BizId``,
SES's ``MessageId``) or else by our Message-ID.  A status only moves forward (``DeliveryStatus.rank``):
providers' callbacks can arrive out of order, and a late "sent" after "delivered" changes nothing.
A report about no message of the store's is counted as unmatched and otherwise ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import outbox
from afterorder.feedback.base import DeliveryStatus, StatusReport


@dataclass(frozen=True)
class Found:
    outbox_id: int
    message_id: str


@dataclass(frozen=True)
class Recorded:
    updated: int = 0  # messages whose status moved
    unchanged: int = 0  # found, but already at that status or later
    unmatched: int = 0  # no message of the store's has that id

    def __add__(self, other: Recorded) -> Recorded:
        return Recorded(self.updated + other.updated, self.unchanged + other.unchanged,
                        self.unmatched + other.unmatched)


async def find_outbox(conn: AsyncConnection, store_id: int, *, provider_message_id: str | None = None,
                      message_id: str | None = None) -> Found | None:
    """The store's message with the provider's id ``provider_message_id``, else with Message-ID ``message_id``."""
    for column, value in ((outbox.c.provider_message_id, provider_message_id), (outbox.c.message_id, message_id)):
        if value:
            row = (await conn.execute(select(outbox.c.id, outbox.c.message_id).where(
                outbox.c.store_id == store_id, column == value).order_by(outbox.c.id.desc()).limit(1))).first()
            if row is not None:
                return Found(row.id, row.message_id)
    return None


async def set_status(conn: AsyncConnection, store_id: int, outbox_id: int, report: StatusReport) -> bool:
    """Put ``report`` on message ``outbox_id`` unless it already has that status or a later one."""
    earlier = [s.value for s in DeliveryStatus if s.rank < report.status.rank]
    moved = await conn.execute(outbox.update().where(
        outbox.c.store_id == store_id, outbox.c.id == outbox_id,
        or_(outbox.c.provider_status.is_(None), outbox.c.provider_status.in_(earlier)),
    ).values(provider_status=report.status.value, provider_status_at=report.occurred_at,
             provider_status_detail=report.detail[:255] or None))
    return bool(moved.rowcount)


async def record_statuses(conn: AsyncConnection, store_id: int, reports: Sequence[StatusReport]) -> Recorded:
    total = Recorded()
    for report in reports:
        found = await find_outbox(conn, store_id, provider_message_id=report.provider_message_id,
                                  message_id=report.message_id)
        if found is None:
            total += Recorded(unmatched=1)
        elif await set_status(conn, store_id, found.outbox_id, report):
            total += Recorded(updated=1)
        else:
            total += Recorded(unchanged=1)
    return total

"""What a stored event leaves behind besides its projections, live or imported alike: the coupon of
ours an order used (redeemed), and the consent a customer gave or withdrew (recorded)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.intake import record_event_consents
from afterorder.db.events import StoredEvent
from afterorder.db.stores import StoreRow
from afterorder.domain import EventType, codes_in
from afterorder.promotions.coupons import redeem


async def record_side_effects(conn: AsyncConnection, store: StoreRow, stored: Sequence[StoredEvent],
                              now: datetime) -> None:
    used = [(code, s.order_id, s.event.occurred_at) for s in stored
            if s.event.type is EventType.ORDER_PLACED for code in codes_in(s.event)]
    if used:  # an order that uses one of our coupons uses it up
        await redeem(conn, store.id, used)
    await record_event_consents(conn, store.id, stored, now)

"""What a stored event leaves behind besides its projections, live or imported alike: the coupon of
ours an order used (redeemed), and the consent a customer gave or withdrew (recorded)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.intake import Stored as ConsentSource
from afterorder.compliance.intake import record_event_consents
from afterorder.domain import Event, EventType, codes_in
from afterorder.promotions.coupons import redeem

# event, payload, customer id, order id
Happened = tuple[Event, Any, int | None, int | None]


async def record_side_effects(conn: AsyncConnection, store_id: int, sources: Sequence[str],
                              happened: Sequence[Happened], event_ids: dict[str, int], now: datetime) -> None:
    used = [(code, order_id, e.occurred_at) for e, _, _, order_id in happened
            if e.type is EventType.ORDER_PLACED for code in codes_in(e)]
    if used:  # an order that uses one of our coupons uses it up
        await redeem(conn, store_id, used)
    await record_event_consents(conn, store_id, [ConsentSource(e, event_ids[e.id], customer_id, source)
                                                 for source, (e, _, customer_id, _) in zip(sources, happened,
                                                                                           strict=True)], now)

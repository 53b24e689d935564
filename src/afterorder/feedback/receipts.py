"""Provider events already applied, so a redelivered one changes nothing the second time.

A receipt is written in the transaction that applies the event: the event and its receipt are
committed together or not at all.  Only events that change something leave a receipt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import feedback_receipts
from afterorder.db.statements import insert_ignore

_COLUMNS = ("store_id", "provider", "receipt_id", "received_at")


async def first_time(conn: AsyncConnection, store_id: int, provider: str, receipt_id: str, now: datetime) -> bool:
    """Record the receipt; False when the store had it already (the event was applied before)."""
    inserted = await conn.execute(insert_ignore(feedback_receipts, _COLUMNS, ("receipt_id",)), {
        "store_id": store_id, "provider": provider, "receipt_id": receipt_id[:255], "received_at": now})
    return inserted.first() is not None

"""A customer as the audit log names it: the store's internal id (``customers.id``), never the
store's own id for the customer (which may be an email address) nor anything else about them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import customers


async def internal_id(conn: AsyncConnection, store_id: int, external_id: str) -> int | None:
    found = (await conn.execute(select(customers.c.id).where(
        customers.c.store_id == store_id, customers.c.external_id == external_id))).scalar()
    return int(found) if found is not None else None

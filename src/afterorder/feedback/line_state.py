"""A customer's LINE state (``customers.line_user_id``, ``line_following``, ``line_changed_at``), as
LINE's webhook events change it.

``line_following`` is None while not known, True while the customer follows the store's account,
False after they unfollowed (or blocked) it: LINE cannot reach them until they follow again.  An
event older than the last change applied is not applied (LINE may deliver events out of order).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import customers


def _not_newer(at: datetime) -> ColumnElement[bool]:
    return or_(customers.c.line_changed_at.is_(None), customers.c.line_changed_at <= at)


async def set_following(conn: AsyncConnection, store_id: int, user_id: str, following: bool, at: datetime) -> int:
    """Every customer of the store known by LINE user ``user_id`` follows (or not); returns how many."""
    changed = await conn.execute(customers.update().where(
        customers.c.store_id == store_id, customers.c.line_user_id == user_id, _not_newer(at),
    ).values(line_following=following, line_changed_at=at))
    return int(changed.rowcount)


async def link_customer(conn: AsyncConnection, store_id: int, customer_id: int, user_id: str, at: datetime) -> bool:
    """The customer is LINE user ``user_id`` and follows the account (they just linked from its chat)."""
    changed = await conn.execute(customers.update().where(
        customers.c.store_id == store_id, customers.c.id == customer_id,
    ).values(line_user_id=user_id, line_following=True, line_changed_at=at))
    return bool(changed.rowcount)

"""The order page's links: ``{base}/o/{store}/{token}``.

The token is the store's signed token (``afterorder.signing``, purpose ``order-page``, 128-bit MAC)
over ``[order id, page version, last valid day]``: unguessable, scoped to one order of one store,
valid for ``VALID_DAYS`` after it was made, and revoked — with every other link of the order made
so far — when the store raises the order's ``page_version`` (``revoke``).  ``read_token`` raises
:class:`~afterorder.signing.BadToken` for an altered, foreign, expired or revoked token alike, so
a page can answer all of them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import orders
from afterorder.signing import BadToken, Signer

PURPOSE: Final = "order-page"
VALID_DAYS: Final = 400  # past a year of returns, warranties and reorders
_DAY: Final = 86400


@dataclass(frozen=True)
class OrderRef:
    order_id: int
    version: int


def _day(at: datetime) -> int:
    return int(at.timestamp()) // _DAY


def order_token(signer: Signer, order_id: int, version: int, now: datetime) -> str:
    return signer.sign(PURPOSE, [order_id, version, _day(now) + VALID_DAYS])


def order_url(base_url: str, slug: str, signer: Signer, order_id: int, version: int, now: datetime) -> str:
    return f"{base_url.rstrip('/')}/o/{slug}/{order_token(signer, order_id, version, now)}"


def read_token(signer: Signer, token: str, now: datetime) -> OrderRef:
    """The order and link version ``token`` names; ``BadToken`` when it is altered, another store's or
    purpose's, or past its last day (the version is checked against the order by the caller)."""
    payload = signer.verify(PURPOSE, token)
    if (not isinstance(payload, list) or len(payload) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in payload)):
        raise BadToken("the token's payload is not an order page's")
    order_id, version, last_day = payload
    if _day(now) > last_day:
        raise BadToken("the link has expired")
    return OrderRef(order_id, version)


async def revoke(conn: AsyncConnection, store_id: int, external_id: str) -> int | None:
    """Revoke every order page link of the store's order ``external_id`` made so far; returns the new
    version (links made from now on carry it), None when the store has no such order."""
    row = (await conn.execute(
        update(orders).where(orders.c.store_id == store_id, orders.c.external_id == external_id)
        .values(page_version=orders.c.page_version + 1).returning(orders.c.page_version)
    )).first()
    return None if row is None else int(row[0])

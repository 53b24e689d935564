"""Store platforms: connections (webhook secrets; Ecwid's store id and API token), and what
deliveries taught us (order status, stock).

``connect`` creates or updates a store's connection to a platform; a rotation keeps the old
secret as ``previous_secret`` so deliveries signed before the platform switched still verify.
Both secrets are stored sealed and opened when read (``afterorder.keys.stored``; a plain one an
older version stored is read as it is).
``StoredMemory`` is the ``Memory`` adapters read; ``remember`` writes what they learnt, after the
delivery's events are stored (so a failed store leaves nothing half-remembered and a retry
produces the same events again).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.schema import platform_connections, platform_items, platform_orders, webhook_deliveries
from afterorder.db.statements import insert_ignore
from afterorder.domain import Connection, ItemSeen, OrderSeen, Remembered
from afterorder.keys.sealing import Sealer
from afterorder.keys.stored import SealerOf, open_value, seal_value

DELIVERY_COLUMNS = ("store_id", "platform", "topic", "delivery_id", "status", "reason", "raw", "received_at")


class ConnectError(ValueError):
    """A connection could not be made as asked; the message names the option."""


async def get_connection(conn: AsyncConnection, store_id: int, platform: str, *,
                         sealer: Sealer | SealerOf) -> Connection | None:
    """The store's connection, secrets opened (``SealError`` if the configured key cannot open them)."""
    row = (await conn.execute(select(platform_connections).where(
        platform_connections.c.store_id == store_id, platform_connections.c.platform == platform))).mappings().first()
    if row is None:
        return None
    return Connection(store_id=store_id, platform=platform, secret=open_value(sealer, row["secret"]),
                      previous_secret=open_value(sealer, row["previous_secret"]), api_url=row["api_url"],
                      account_id=row["account_id"], token=open_value(sealer, row["token"]))


async def connect(conn: AsyncConnection, store_id: int, platform: str, now: datetime, *, secret: str | None,
                  sealer: Sealer, previous_secret: str | None = None, keep_previous: bool = False,
                  api_url: str | None = None, account_id: str | None = None,
                  token: str | None = None) -> Connection:
    """Connect (or reconnect) a store to a platform.

    ``keep_previous`` moves the secret in use now to ``previous_secret`` (a rotation); an explicit
    ``previous_secret`` wins; otherwise reconnecting forgets the old secret."""
    before = await get_connection(conn, store_id, platform, sealer=sealer)
    if previous_secret is None and keep_previous and before is not None and before.secret != secret:
        previous_secret = before.secret
    values: dict[str, Any] = {"secret": seal_value(sealer, secret),
                              "previous_secret": seal_value(sealer, previous_secret),
                              "api_url": api_url, "account_id": account_id,
                              "token": seal_value(sealer, token), "updated_at": now}
    if before is None:
        await conn.execute(platform_connections.insert().values(store_id=store_id, platform=platform, created_at=now,
                                                                **values))
    else:
        await conn.execute(platform_connections.update().where(
            platform_connections.c.store_id == store_id, platform_connections.c.platform == platform).values(**values))
    found = await get_connection(conn, store_id, platform, sealer=sealer)
    assert found is not None
    return found


class StoredMemory:
    """What earlier deliveries of one store and platform told us, read from the database."""

    def __init__(self, engine: AsyncEngine, store_id: int, platform: str) -> None:
        self.engine = engine
        self.store_id = store_id
        self.platform = platform

    async def order_status(self, order_id: str) -> str | None:
        async with self.engine.connect() as conn:
            status = (await conn.execute(select(platform_orders.c.status).where(
                platform_orders.c.store_id == self.store_id, platform_orders.c.platform == self.platform,
                platform_orders.c.order_id == order_id))).scalar_one_or_none()
        return str(status) if status is not None else None

    async def item(self, item_id: str) -> ItemSeen | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(platform_items).where(
                platform_items.c.store_id == self.store_id, platform_items.c.platform == self.platform,
                platform_items.c.item_id == item_id))).mappings().first()
        if row is None:
            return None
        return ItemSeen(item_id, product_id=row["product_id"], variant_id=row["variant_id"],
                        levels={str(k): int(v) for k, v in (row["levels"] or {}).items()})


async def remember(engine: AsyncEngine, store_id: int, platform: str, facts: Sequence[Remembered],
                   now: datetime) -> None:
    """Write what a delivery taught us: an order's status; an item's stock per location and its product."""
    if not facts:
        return
    async with engine.begin() as conn:
        for fact in facts:
            if isinstance(fact, OrderSeen):
                key = (platform_orders.c.store_id == store_id, platform_orders.c.platform == platform,
                       platform_orders.c.order_id == fact.order_id)
                updated = await conn.execute(platform_orders.update().where(*key).values(status=fact.status,
                                                                                            updated_at=now))
                if not updated.rowcount:
                    await conn.execute(insert_ignore(platform_orders, ("store_id", "platform", "order_id", "status",
                                                                       "updated_at")),
                                       {"store_id": store_id, "platform": platform, "order_id": fact.order_id,
                                        "status": fact.status, "updated_at": now})
                continue
            await _remember_item(conn, store_id, platform, fact, now)


async def _remember_item(conn: AsyncConnection, store_id: int, platform: str, fact: ItemSeen, now: datetime) -> None:
    key = (platform_items.c.store_id == store_id, platform_items.c.platform == platform,
           platform_items.c.item_id == fact.item_id)
    row = (await conn.execute(select(platform_items).where(*key))).mappings().first()
    if row is None:
        await conn.execute(insert_ignore(platform_items, ("store_id", "platform", "item_id", "product_id", "variant_id",
                                                          "levels", "updated_at")),
                           {"store_id": store_id, "platform": platform, "item_id": fact.item_id,
                            "product_id": fact.product_id, "variant_id": fact.variant_id, "levels": dict(fact.levels),
                            "updated_at": now})
        return
    await conn.execute(platform_items.update().where(*key).values(
        product_id=fact.product_id or row["product_id"], variant_id=fact.variant_id or row["variant_id"],
        levels={**(row["levels"] or {}), **fact.levels}, updated_at=now))


async def record_ignored(engine: AsyncEngine, store_id: int, platform: str, topic: str, delivery_id: str,
                         reason: str, raw: Any, now: datetime) -> None:
    """Keep a delivery that became no event, with its payload and why (once per delivery id)."""
    async with engine.begin() as conn:
        await conn.execute(insert_ignore(webhook_deliveries, DELIVERY_COLUMNS), {
            "store_id": store_id, "platform": platform, "topic": topic[:128], "delivery_id": delivery_id[:255],
            "status": "ignored", "reason": reason, "raw": raw, "received_at": now})

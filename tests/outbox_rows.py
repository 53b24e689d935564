"""Messages already rendered in the outbox, for tests of delivery alone (the scheduler is tested apart)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels.base import ChannelKind
from afterorder.db.stores import StoreRow
from afterorder.delivery.outbox import OutboxMessage, write_messages


def line_user(n: int) -> str:
    return f"U{n:032x}"


async def queue_line_messages(engine: AsyncEngine, store: StoreRow, count: int, now: datetime,
                              category: str = "transactional") -> list[str]:
    """``count`` LINE pushes queued for ``store`` (a text message each); returns their Message-IDs."""
    messages = [OutboxMessage(
        store_id=store.id, idempotency_key=f"test:line:{n}", message_id=f"<test:line:{n}@{store.slug}.example>",
        channel=ChannelKind.LINE, category=category, template="shipping-confirmation", locale="ja",
        envelope_from=store.email_from, recipient=line_user(n), subject=f"発送 {n}", created_at=now,
        next_attempt_at=now, data=json.dumps({"messages": [{"type": "text", "text": f"ご注文 #{n} を発送しました"}]},
                                             ensure_ascii=False)) for n in range(count)]
    async with engine.begin() as conn:
        await write_messages(conn, messages)
    return [m.message_id for m in messages]


async def queue_sms_messages(engine: AsyncEngine, store: StoreRow, count: int, now: datetime) -> list[str]:
    """``count`` transactional SMS queued for ``store``; returns their Message-IDs."""
    messages = [OutboxMessage(
        store_id=store.id, idempotency_key=f"test:sms:{n}", message_id=f"<test:sms:{n}@{store.slug}.example>",
        channel=ChannelKind.SMS, category="transactional", template="shipping-confirmation", locale="en",
        envelope_from=store.email_from, recipient=f"+1415555{n:04d}", subject=f"Shipped {n}", created_at=now,
        next_attempt_at=now, data=json.dumps({"text": f"Harbor Goods: order #{n} shipped", "params": {}}))
        for n in range(count)]
    async with engine.begin() as conn:
        await write_messages(conn, messages)
    return [m.message_id for m in messages]

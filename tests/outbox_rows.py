"""Messages already rendered in the outbox, for tests of delivery alone (the scheduler is tested apart)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.db.schema import outbox, outbox_bodies
from afterorder.db.stores import StoreRow


def line_user(n: int) -> str:
    return f"U{n:032x}"


async def queue_line_messages(engine: AsyncEngine, store: StoreRow, count: int, now: datetime,
                              category: str = "transactional") -> list[str]:
    """``count`` LINE pushes queued for ``store`` (a text message each); returns their Message-IDs."""
    rows, bodies = [], []
    for n in range(count):
        key = f"test:line:{n}"
        rows.append({"store_id": store.id, "idempotency_key": key, "message_id": f"<{key}@{store.slug}.example>",
                     "channel": "line", "category": category, "template": "shipping-confirmation", "locale": "ja",
                     "envelope_from": store.email_from, "recipient": line_user(n), "subject": f"発送 {n}",
                     "status": "queued", "attempts": 0, "next_attempt_at": now, "created_at": now})
        bodies.append({"store_id": store.id, "idempotency_key": key, "data": json.dumps(
            {"messages": [{"type": "text", "text": f"ご注文 #{n} を発送しました"}]}, ensure_ascii=False)})
    async with engine.begin() as conn:
        for start in range(0, count, 500):
            await conn.execute(outbox.insert(), rows[start:start + 500])
            await conn.execute(outbox_bodies.insert(), bodies[start:start + 500])
    return [r["message_id"] for r in rows]


async def queue_sms_messages(engine: AsyncEngine, store: StoreRow, count: int, now: datetime) -> list[str]:
    """``count`` transactional SMS queued for ``store``; returns their Message-IDs."""
    rows, bodies = [], []
    for n in range(count):
        key = f"test:sms:{n}"
        rows.append({"store_id": store.id, "idempotency_key": key, "message_id": f"<{key}@{store.slug}.example>",
                     "channel": "sms", "category": "transactional", "template": "shipping-confirmation",
                     "locale": "en", "envelope_from": store.email_from, "recipient": f"+1415555{n:04d}",
                     "subject": f"Shipped {n}", "status": "queued", "attempts": 0, "next_attempt_at": now,
                     "created_at": now})
        bodies.append({"store_id": store.id, "idempotency_key": key, "data": json.dumps(
            {"text": f"Harbor Goods: order #{n} shipped", "params": {}})})
    async with engine.begin() as conn:
        await conn.execute(outbox.insert(), rows)
        await conn.execute(outbox_bodies.insert(), bodies)
    return [r["message_id"] for r in rows]

"""Building events and stores for tests, the way a store would send them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from afterorder.channels import Channel
from afterorder.clock import Clock
from afterorder.db.stores import StoreRow, create_store
from afterorder.runtime import Runtime, RuntimeSettings

JP_STORE = {"slug": "kumo", "name": "雲茶舗", "email_from": "shop@kumo.example", "reply_to": "support@kumo.example",
            "country": "JP", "locale": "ja", "timezone": "Asia/Tokyo", "currency": "JPY",
            "support_email": "support@kumo.example", "postal_address": "京都府京都市下京区 1-2-3"}
US_STORE = {"slug": "harbor", "name": "Harbor Goods", "email_from": "hello@harbor.example",
            "reply_to": "help@harbor.example", "country": "US", "locale": "en", "timezone": "America/New_York",
            "currency": "USD", "support_email": "help@harbor.example"}


def order_event(kind: str, order_id: str, at: datetime, *, event_id: str | None = None, locale: str = "ja",
                email: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id or f"{kind}:{order_id}",
        "type": kind,
        "occurred_at": at.isoformat(),
        "customer": {"id": f"cust-{order_id}", "email": email or f"{order_id}@example.com",
                     "first_name": "太郎" if locale == "ja" else "Emma",
                     "last_name": "山田" if locale == "ja" else "Smith", "locale": locale},
        "order": {"id": order_id, "number": f"#{order_id}", "currency": "JPY" if locale == "ja" else "USD",
                  "subtotal": 15000 if locale == "ja" else 120, "total": 15000 if locale == "ja" else 120,
                  "lines": [{"product_id": "p1", "title": "京焼 急須" if locale == "ja" else "Wool Throw",
                             "quantity": 1, "price": 15000 if locale == "ja" else 120,
                             "image_url": "https://cdn.example/p1.jpg"}],
                  "shipping_address": {"name": "山田 太郎", "city": "京都市", "country": "JP"}},
    }
    if kind == "order.shipped":
        event["shipment"] = {"carrier": "ヤマト運輸", "tracking_number": "1234-5678-9012",
                             "tracking_url": f"https://track.example/{order_id}",
                             "estimated_delivery": (at + timedelta(days=2)).isoformat()}
    event.update(extra)
    return event


@asynccontextmanager
async def running(database_url: str, clock: Clock, *, channel: Channel | None = None, smtp_url: str | None = None,
                  **settings: Any) -> AsyncIterator[Runtime]:
    runtime = Runtime(RuntimeSettings(database_url=database_url, smtp_url=smtp_url, **settings), clock,
                      channel=channel)
    await runtime.migrate()
    try:
        yield runtime
    finally:
        await runtime.close()


async def add_store(runtime: Runtime, fields: dict[str, Any] | None = None) -> tuple[StoreRow, str]:
    async with runtime.engine.begin() as conn:
        return await create_store(conn, runtime.clock.now(), sealer=runtime.sealer, **(fields or JP_STORE))

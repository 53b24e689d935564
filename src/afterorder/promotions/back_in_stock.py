"""Back-in-stock: shoppers subscribe an email to a product (``POST /public/{store}/back-in-stock``); when a
``product.restocked`` event arrives, every open subscription of that product starts one run of the
``back-in-stock`` flow (``flows.restock``) and is marked notified, so each subscriber is told once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import stock_subscriptions

WORDING = {
    "en": "Email me once when this product is back in stock.",
    "ja": "この商品の再入荷時に一度だけメールで知らせる。",
    "zh-Hans": "该商品到货时发送一次邮件通知我。",
}


async def subscribe(conn: AsyncConnection, store_id: int, customer_id: int, email: str, product_id: str, *,
                    wording: str, source_ip: str | None, now: datetime) -> tuple[int, bool]:
    """Record the request; returns (subscription id, created).  Asking again while waiting changes nothing."""
    open_one = (await conn.execute(select(stock_subscriptions.c.id).where(
        stock_subscriptions.c.store_id == store_id, stock_subscriptions.c.product_id == product_id,
        stock_subscriptions.c.customer_id == customer_id, stock_subscriptions.c.notified_at.is_(None)))).first()
    if open_one is not None:
        return open_one.id, False
    result = await conn.execute(stock_subscriptions.insert().values(
        store_id=store_id, product_id=product_id, customer_id=customer_id, email=email.lower(),
        source_ip=source_ip, wording=wording, created_at=now, notified_at=None, run_id=None))
    inserted = result.inserted_primary_key
    assert inserted is not None
    return int(inserted[0]), True

"""A store with a catalog and an order, for the thank-you block's tests: the order page token the
store's confirmation page would put in ``data-order``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from afterorder.db.stores import StoreRow
from afterorder.runtime import Runtime
from tests.compliance_helpers import ingest
from tests.factories import add_store, order_event

SHOP = "https://shop.kumo.example"
PICKS = (("茶こし", 1200), ("湯呑み 二客", 3800), ("煎茶 深蒸し", 1600))


@dataclass
class Shop:
    store: StoreRow
    key: str
    token: str


def api(app: Any, key: str, address: tuple[str, int] = ("198.51.100.7", 50000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=address), base_url="http://ao.test",
                             headers={"Authorization": f"Bearer {key}"})


async def shop_with_order(runtime: Runtime, app: Any, *, image_base: str = "https://cdn.kumo.example",
                          origins: list[str] | None = None, locale: str = "ja",
                          fields: dict[str, Any] | None = None) -> Shop:
    """The kumo store (or ``fields``), three products in its catalog, order A1 placed; its shop
    origins set to ``origins`` (default ``SHOP``)."""
    store, key = await add_store(runtime, fields)
    now = runtime.clock.now().isoformat()
    await ingest(runtime, store, *[
        {"id": f"product:x{i}", "type": "product.updated", "occurred_at": now,
         "product": {"id": f"x{i}", "title": title, "price": price, "currency": "JPY",
                     "image_url": f"{image_base}/x{i}.svg", "url": f"{SHOP}/products/x{i}", "in_stock": True}}
        for i, (title, price) in enumerate(PICKS)])
    await ingest(runtime, store, order_event("order.placed", "A1", runtime.clock.now(), locale=locale))
    async with api(app, key) as http:
        link = await http.get("/api/v1/orders/A1/order-page")
        assert link.status_code == 200, link.text
        put = await http.put("/api/v1/thank-you-block", json={"shop_origins": origins or [SHOP]})
        assert put.status_code == 200, put.text
    return Shop(store, key, link.json()["token"])

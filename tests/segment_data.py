"""A small store whose customers differ in every way segments can ask about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.factories import JP_STORE, add_store

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _order(kind: str, customer: dict[str, Any], order_id: str, days_ago: float, total: int,
           lines: list[tuple[str, str]], country: str = "JP") -> dict[str, Any]:
    return {"id": f"{kind}:{order_id}", "type": kind, "occurred_at": (NOW - timedelta(days=days_ago)).isoformat(),
            "customer": customer,
            "order": {"id": order_id, "currency": "JPY", "total": total,
                      "lines": [{"product_id": p, "title": p, "price": total, "category": c} for p, c in lines],
                      "shipping_address": {"country": country}}}


AIKO = {"id": "aiko", "email": "aiko@example.jp", "first_name": "愛子", "last_name": "佐藤", "country": "JP",
        "locale": "ja", "region": "京都府", "city": "京都市", "gender": "female", "birth_date": "1990-05-01",
        "life_stage": "parent", "occupation": "designer", "tags": ["vip", "tea"], "accepts_marketing": True,
        "properties": {"size": "M", "skill": 3}}
BEN = {"id": "ben", "email": "ben@example.com", "first_name": "Ben", "country": "US", "locale": "en", "tags": [],
       "accepts_marketing": False}
CHEN = {"id": "chen", "email": "chen@example.cn", "first_name": "晨", "country": "CN", "locale": "zh-Hans",
        "accepts_marketing": True, "tags": ["new"]}
DAI = {"id": "dai", "email": "dai@example.jp", "country": "JP", "locale": "ja", "gender": "male",
       "birth_date": "2001-02-03", "tags": ["teapot"]}
EMI = {"id": "emi", "email": "emi@example.jp", "country": "JP", "properties": {"size": "S"}}
EVERYONE = {"aiko", "ben", "chen", "dai", "emi"}


def history() -> list[dict[str, Any]]:
    return [
        {"id": "created:chen", "type": "customer.created", "occurred_at": (NOW - timedelta(days=3)).isoformat(),
         "customer": CHEN},
        _order("order.placed", AIKO, "A1", 21, 60000, [("p-sencha", "tea")]),
        _order("order.placed", AIKO, "A2", 52, 20000, [("p-kyusu", "teaware")]),
        _order("order.placed", BEN, "B1", 316, 3000, [("p-sencha", "tea")], country="US"),
        _order("order.placed", DAI, "D1", 2, 5000, [("p-matcha", "tea")]),
        _order("order.placed", DAI, "D2", 1, 8000, [("p-bowl", "teaware")]),
        _order("order.cancelled", DAI, "D2", 0.5, 8000, [("p-bowl", "teaware")]),
        _order("order.placed", DAI, "D3", 10, 7000, [("p-whisk", "tools")]),
        _order("order.refunded", DAI, "D3", 5, 7000, [("p-whisk", "tools")]),
        _order("order.placed", EMI, "E1", 540, 100000, [("p-set", "gift")]),
    ]


async def segment_store(runtime: Runtime) -> Any:
    """The store with its history; its API key is ``segment_store.api_key`` afterwards."""
    store, key = await add_store(runtime, JP_STORE)
    segment_store.api_key = key  # type: ignore[attr-defined]
    async with runtime.engine.begin() as conn:
        for flow in ("order-confirmation", "shipping-confirmation", "delivery-follow-up"):
            await runtime.catalog.set_enabled(conn, store, flow, False, NOW)
    await runtime.intake.ingest(store, [Event.model_validate(e) for e in history()])
    return store

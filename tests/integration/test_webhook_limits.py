"""The platform webhooks keep the limits of the events API (afterorder.intake.limits): signed deliveries
from Shopify, WooCommerce and Saleor nested too deep, with a time out of range or a number past a
column's bounds are refused with 400 naming the field, over real HTTP on loopback; nothing is stored."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.platforms import connect
from afterorder.db.schema import events, webhook_deliveries
from afterorder.intake import limits
from afterorder.keys.sealing import new_key
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import add_store, running
from tests.loopback import loopback
from tests.platforms import saleor_headers, sample_json, shopify_headers, woocommerce_headers

NOW = datetime.now(UTC).replace(microsecond=0)
SALEOR_API = "https://saleor.example.com/graphql/"


@dataclass
class Platforms:
    client: httpx.AsyncClient
    url: str
    runtime: Runtime
    sent: int = 0

    async def post(self, platform: str, payload: Any, topic: str) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.sent += 1
        if platform == "shopify":
            headers = shopify_headers(body, "s", topic, f"wh-{self.sent}")
        elif platform == "woocommerce":
            headers = woocommerce_headers(body, "s", topic, f"d-{self.sent}")
        else:
            headers = saleor_headers(topic, SALEOR_API, hmac.new(b"s", body, hashlib.sha256).hexdigest())
        return await self.client.post(f"{self.url}/webhooks/{platform}/kumo", content=body, headers=headers)

    async def stored(self) -> int:
        async with self.runtime.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(events))).scalar_one())


@pytest.fixture
async def platforms(database_url: str) -> AsyncIterator[Platforms]:
    async with running(database_url, FrozenClock(NOW), secret_key=new_key()) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            for platform in ("shopify", "woocommerce", "saleor"):
                await connect(conn, store.id, platform, NOW, secret="s", sealer=runtime.sealer, api_url=SALEOR_API)
        async with httpx.AsyncClient(timeout=30) as http, loopback(create_app(runtime, webhook_http=http)) as url:
            yield Platforms(http, url, runtime)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def shopify_order(**changes: Any) -> dict[str, Any]:
    order = sample_json("shopify", "orders_create.sample.json")
    order.update(changes)
    return order


def woocommerce_order(when: str) -> dict[str, Any]:
    order = sample_json("woocommerce", "order_created.v3_example.json")
    order["date_created_gmt"] = when
    return order


def saleor_order(when: str) -> dict[str, Any]:
    payload = sample_json("saleor", "ORDER_CREATED.json")
    payload["order"]["created"] = when
    return payload


def nested(levels: int) -> bytes:
    return b'{"id": 1, "deep": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


async def test_deliveries_nested_too_deep_are_400_on_every_platform(platforms: Platforms) -> None:
    for platform, topic in (("shopify", "orders/create"), ("woocommerce", "order.created"),
                            ("saleor", "order_created")):
        before = await platforms.stored()
        for body in (b"[" * 100_000, nested(limits.MAX_JSON_DEPTH + 1)):
            response = await platforms.post(platform, body, topic)
            assert response.status_code == 400, (platform, response.text)
            assert f"more than {limits.MAX_JSON_DEPTH} levels" in response.json()["message"]
        assert await platforms.stored() == before, "nothing of a refused delivery is stored"
        at_limit = await platforms.post(platform, nested(limits.MAX_JSON_DEPTH), topic)
        assert at_limit.status_code in (200, 400) and "levels" not in at_limit.text, \
            "at the limit the body is read (and then found not to be an order, or ignored)"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
                                  iso(NOW + limits.MAX_AHEAD + timedelta(seconds=1))])
async def test_order_times_out_of_range_are_400_naming_the_field(platforms: Platforms, when: str) -> None:
    shopify = await platforms.post("shopify", shopify_order(processed_at=when, created_at=when), "orders/create")
    woocommerce = await platforms.post("woocommerce", woocommerce_order(when.removesuffix("Z")), "order.created")
    saleor = await platforms.post("saleor", saleor_order(when), "order_created")
    for platform, response in (("shopify", shopify), ("woocommerce", woocommerce), ("saleor", saleor)):
        assert response.status_code == 400, (platform, response.text)
        assert "occurred_at" in response.json()["message"], (platform, response.text)
    assert await platforms.stored() == 0
    async with platforms.runtime.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(webhook_deliveries))).scalar_one() == 0


async def test_order_times_at_the_bounds_are_stored(platforms: Platforms) -> None:
    ahead = iso(NOW + limits.MAX_AHEAD)
    shopify = await platforms.post("shopify", shopify_order(processed_at=ahead), "orders/create")
    woocommerce = await platforms.post("woocommerce", woocommerce_order("1970-01-01T00:00:00"), "order.created")
    saleor = await platforms.post("saleor", saleor_order(ahead), "order_created")
    for response in (shopify, woocommerce, saleor):
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "stored" and response.json()["accepted"]


async def test_numbers_past_the_columns_are_400_naming_the_field(platforms: Platforms) -> None:
    order = shopify_order()
    order["line_items"][0]["quantity"] = limits.MAX_QUANTITY + 1
    too_many = await platforms.post("shopify", order, "orders/create")
    assert too_many.status_code == 400 and "quantity" in too_many.json()["message"]
    order = shopify_order()
    order["total_price"] = "100000000000.00"
    order["current_total_price"] = order["total_price"]
    order.pop("total_price_set", None)
    order.pop("current_total_price_set", None)
    too_much = await platforms.post("shopify", order, "orders/create")
    assert too_much.status_code == 400 and "total" in too_much.json()["message"], too_much.text
    assert await platforms.stored() == 0
    order = shopify_order()
    order["line_items"][0]["quantity"] = limits.MAX_QUANTITY
    assert (await platforms.post("shopify", order, "orders/create")).status_code == 200
    assert await platforms.stored() == 1

"""The events API as a store's developer meets it: auth, validation, dedupe, limits, OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import customers, events, flow_runs, order_lines, orders
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import add_store, order_event, running


async def count(runtime: Runtime, table: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
async def api(database_url: str) -> Any:
    async with running(database_url, FrozenClock(T0)) as runtime:
        _, key = await add_store(runtime)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            yield client, runtime


async def test_an_order_is_stored_once_and_projected(api: Any) -> None:
    client, runtime = api
    body = order_event("order.placed", "1001", T0)
    first = await client.post("/api/v1/events", json=body)
    again = await client.post("/api/v1/events", json=body)
    assert first.status_code == 200 and again.status_code == 200
    assert first.json()["accepted"] == [{"id": "order.placed:1001", "status": "stored", "runs_started": 1}]
    assert again.json()["accepted"][0]["status"] == "duplicate"
    assert await count(runtime, events) == 1
    assert await count(runtime, flow_runs) == 1
    async with runtime.engine.connect() as conn:
        order = (await conn.execute(select(orders))).mappings().one()
        customer = (await conn.execute(select(customers))).mappings().one()
        line = (await conn.execute(select(order_lines))).mappings().one()
    assert order["number"] == "#1001" and order["status"] == "placed" and order["total"] == 15000
    assert order["customer_id"] == customer["id"] and customer["last_name"] == "山田"
    assert line["title"] == "京焼 急須" and line["price"] == 15000


async def test_status_follows_the_order_and_never_goes_back(api: Any) -> None:
    client, runtime = api
    batch = {"events": [order_event("order.placed", "7", T0), order_event("order.delivered", "7", T0),
                        order_event("order.paid", "7", T0)]}
    assert (await client.post("/api/v1/events", json=batch)).status_code == 200
    async with runtime.engine.connect() as conn:
        order = (await conn.execute(select(orders))).mappings().one()
    assert order["status"] == "delivered" and order["paid_at"] is not None and order["delivered_at"] is not None


async def test_bad_fields_are_named_and_nothing_is_stored(api: Any) -> None:
    client, runtime = api
    good = order_event("order.placed", "1", T0)
    bad = order_event("order.placed", "2", T0)
    bad["occurred_at"] = "yesterday"
    bad["order"]["lines"][0]["quantity"] = 0
    bad["customer"]["emial"] = "typo@example.com"
    response = await client.post("/api/v1/events", json={"events": [good, bad]})
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert fields == {"events[1].occurred_at", "events[1].order.lines[0].quantity", "events[1].customer.emial"}
    assert await count(runtime, events) == 0 and await count(runtime, orders) == 0


async def test_unknown_type_and_missing_order_are_explained(api: Any) -> None:
    client, _ = api
    unknown = await client.post("/api/v1/events", json={"id": "x", "type": "order.teleported",
                                                        "occurred_at": T0.isoformat()})
    assert unknown.status_code == 422 and unknown.json()["details"][0]["field"] == "type"
    missing = await client.post("/api/v1/events", json={"id": "y", "type": "order.shipped",
                                                        "occurred_at": T0.isoformat()})
    assert missing.status_code == 422 and "needs an 'order'" in missing.json()["message"] + json.dumps(
        missing.json()["details"])


async def test_not_json_too_large_and_wrong_key(api: Any) -> None:
    client, runtime = api
    broken = await client.post("/api/v1/events", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_json"
    huge = {"events": [order_event("order.placed", str(i), T0, note="x" * 3000) for i in range(400)]}
    too_large = await client.post("/api/v1/events", content=json.dumps(huge).encode())
    assert too_large.status_code == 413
    wrong = await client.post("/api/v1/events", json=order_event("order.placed", "1", T0),
                              headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"
    nokey = await client.post("/api/v1/events", json=order_event("order.placed", "1", T0),
                              headers={"Authorization": ""})
    assert nokey.status_code == 401
    assert await count(runtime, events) == 0


async def test_openapi_describes_the_events_endpoint(api: Any) -> None:
    client, _ = api
    doc = (await client.get("/api/openapi.json")).json()
    post = doc["paths"]["/api/v1/events"]["post"]
    refs = {s["$ref"] for s in post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]}
    assert refs == {"#/components/schemas/Event", "#/components/schemas/EventBatch"}
    event = doc["components"]["schemas"]["Event"]
    assert {"id", "type", "occurred_at"} <= set(event["required"])
    assert "order.refunded" in json.dumps(doc["components"]["schemas"])

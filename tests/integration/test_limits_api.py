"""Limits at the door, as an attacker or a buggy store meets them on ``POST /api/v1/events``: each
limit's boundary value is stored, one past it is refused naming the field (413 for the size), and
nothing of a refused request is stored; never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import events, order_lines, orders, products
from afterorder.intake import limits
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import add_store, order_event, running

NOW = datetime.now(UTC).replace(microsecond=0)
TOKYO = timezone(timedelta(hours=9))


async def count(runtime: Runtime, table: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
async def api(database_url: str) -> Any:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        _, key = await add_store(runtime)
        transport = httpx.ASGITransport(app=create_app(runtime), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            yield client, runtime


def placed(order_id: str = "1") -> dict[str, Any]:
    return order_event("order.placed", order_id, NOW - timedelta(hours=1))


def refused_fields(response: httpx.Response) -> set[str]:
    return {d["field"] for d in response.json().get("details", [])}


# ---- the defects of issue 21 ---------------------------------------------------------------------


async def test_a_deeply_nested_body_is_refused_not_a_500(api: Any) -> None:
    client, runtime = api
    response = await client.post("/api/v1/events", content=b"[" * 100_000)
    assert response.status_code == 422
    assert response.json()["error"] == "too_deep" and "32 levels" in response.json()["message"]
    assert await count(runtime, events) == 0


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00"])
async def test_a_time_out_of_range_is_refused_naming_the_field(api: Any, when: str) -> None:
    client, runtime = api
    event = placed()
    event["occurred_at"] = when
    response = await client.post("/api/v1/events", json=event)
    assert response.status_code == 422
    assert refused_fields(response) == {"occurred_at"}
    assert await count(runtime, events) == 0 and await count(runtime, orders) == 0


# ---- every limit: the boundary is stored, one past it is refused ----------------------------------


@dataclass(frozen=True)
class Limit:
    name: str
    field: str  # as the error names it
    put: Callable[[dict[str, Any], Any], None]
    boundary: Any
    past: Any


def _set(*path: str | int) -> Callable[[dict[str, Any], Any], None]:
    def put(event: dict[str, Any], value: Any) -> None:
        node: Any = event
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        node[path[-1]] = value
    return put


def _lines(event: dict[str, Any], n: int) -> None:
    event["order"]["lines"] = [dict(event["order"]["lines"][0], sku=f"s{i}") for i in range(n)]


def _checkout(event: dict[str, Any], value: Any) -> None:
    event.update(type="checkout.updated", checkout={"id": "c1", "completed_at": value})
    del event["order"]


def _restock(event: dict[str, Any], value: Any) -> None:
    event.update(type="product.updated", product={"id": "p1", "inventory_quantity": value})
    del event["order"]


def _nested(event: dict[str, Any], levels: int) -> None:
    """``properties`` holding lists nested so the whole body is ``levels`` deep (event 1, properties 2)."""
    value: Any = []
    for _ in range(levels - 3):
        value = [value]
    event["properties"] = {"deep": value}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


LIMITS = [
    Limit("json depth", "(body)", _nested, limits.MAX_JSON_DEPTH, limits.MAX_JSON_DEPTH + 1),
    Limit("lines per order", "order.lines", _lines, limits.MAX_LINES, limits.MAX_LINES + 1),
    Limit("title length", "order.lines[0].title", _set("order", "lines", 0, "title"),
          "急" * limits.TITLE_TEXT, "急" * (limits.TITLE_TEXT + 1)),
    Limit("name length", "customer.first_name", _set("customer", "first_name"),
          "a" * limits.SHORT_TEXT, "a" * (limits.SHORT_TEXT + 1)),
    Limit("order id length", "order.id", _set("order", "id"), "9" * limits.SHORT_TEXT, "9" * (limits.SHORT_TEXT + 1)),
    Limit("url length", "order.lines[0].url", _set("order", "lines", 0, "url"),
          "https://x.example/" + "a" * (limits.LONG_TEXT - 18), "https://x.example/" + "a" * (limits.LONG_TEXT - 17)),
    Limit("email length", "customer.email", _set("customer", "email"),
          "a" * (limits.EMAIL_TEXT - 12) + "@example.com", "a" * (limits.EMAIL_TEXT - 11) + "@example.com"),
    Limit("tags", "customer.tags", _set("customer", "tags"),
          [f"t{i}" for i in range(limits.MAX_TAGS)], [f"t{i}" for i in range(limits.MAX_TAGS + 1)]),
    Limit("properties", "properties", _set("properties"),
          {f"k{i}": i for i in range(limits.MAX_PROPERTIES)}, {f"k{i}": i for i in range(limits.MAX_PROPERTIES + 1)}),
    Limit("property name", "properties." + "k" * (limits.MAX_KEY_LENGTH + 1) + ".[key]", _set("properties"),
          {"k" * limits.MAX_KEY_LENGTH: 1}, {"k" * (limits.MAX_KEY_LENGTH + 1): 1}),
    Limit("quantity", "order.lines[0].quantity", _set("order", "lines", 0, "quantity"),
          limits.MAX_QUANTITY, limits.MAX_QUANTITY + 1),
    Limit("price", "order.lines[0].price", _set("order", "lines", 0, "price"),
          "99999999999.9999", "100000000000"),
    Limit("total", "order.total", _set("order", "total"), "99999999999.9999", "100000000000.0000"),
    Limit("money places", "order.total", _set("order", "total"), "0.0001", "0.00001"),
    Limit("inventory (INTEGER)", "product.inventory_quantity", _restock, limits.INT32_MAX, limits.INT32_MAX + 1),
    Limit("negative inventory (INTEGER)", "product.inventory_quantity", _restock,
          limits.INT32_MIN, limits.INT32_MIN - 1),
    Limit("occurred_at, earliest", "occurred_at", _set("occurred_at"), "1970-01-01T00:00:00Z",
          "1969-12-31T23:59:59Z"),
    Limit("occurred_at, ahead", "occurred_at", _set("occurred_at"), iso(NOW + limits.MAX_AHEAD),
          iso(NOW + limits.MAX_AHEAD + timedelta(seconds=1))),
    Limit("occurred_at, ahead with an offset", "occurred_at", _set("occurred_at"),
          (NOW + limits.MAX_AHEAD).astimezone(TOKYO).isoformat(),
          (NOW + limits.MAX_AHEAD + timedelta(seconds=1)).astimezone(TOKYO).isoformat()),
    Limit("checkout completed_at, earliest", "checkout.completed_at", _checkout, "1970-01-01T00:00:00Z",
          "1969-12-31T23:59:59Z"),
    Limit("checkout completed_at, ahead", "checkout.completed_at", _checkout, iso(NOW + limits.MAX_AHEAD),
          iso(NOW + limits.MAX_AHEAD + timedelta(seconds=1))),
    Limit("estimated delivery, ahead", "shipment.estimated_delivery", _set("shipment", "estimated_delivery"),
          iso(NOW + limits.MAX_ESTIMATE_AHEAD), iso(NOW + limits.MAX_ESTIMATE_AHEAD + timedelta(seconds=1))),
    Limit("estimated delivery, earliest", "shipment.estimated_delivery", _set("shipment", "estimated_delivery"),
          "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z"),
    Limit("birth date, earliest", "customer.birth_date", _set("customer", "birth_date"), "1900-01-01", "1899-12-31"),
    Limit("birth date, ahead", "customer.birth_date", _set("customer", "birth_date"),
          (NOW + timedelta(days=1)).date().isoformat(), (NOW + timedelta(days=2)).date().isoformat()),
]


@pytest.mark.parametrize("limit", LIMITS, ids=[limit.name for limit in LIMITS])
async def test_the_boundary_is_stored_and_one_past_it_is_refused(api: Any, limit: Limit) -> None:
    client, runtime = api
    past = placed("past")
    limit.put(past, limit.past)
    refused = await client.post("/api/v1/events", json=past)
    assert refused.status_code == 422, refused.text
    assert refused_fields(refused) == {limit.field} or limit.field == "(body)", refused.text
    assert await count(runtime, events) == 0

    boundary = placed("boundary")
    limit.put(boundary, limit.boundary)
    accepted = await client.post("/api/v1/events", json=boundary)
    assert accepted.status_code == 200, accepted.text
    assert await count(runtime, events) == 1


async def test_numbers_at_the_column_bounds_are_kept_as_sent(api: Any) -> None:
    client, runtime = api
    event = placed()
    event["order"]["total"] = "99999999999.9999"
    event["order"]["lines"][0].update(quantity=limits.MAX_QUANTITY, price="99999999999.9999")
    product = {"id": "p", "type": "product.updated", "occurred_at": iso(NOW),
               "product": {"id": "p1", "inventory_quantity": limits.INT32_MAX}}
    opened = {"id": "o", "type": "message.opened", "occurred_at": iso(NOW),
              "message": {"outbox_id": limits.INT64_MAX, "step": limits.INT32_MAX}}
    response = await client.post("/api/v1/events", json={"events": [event, product, opened]})
    assert response.status_code == 200, response.text
    async with runtime.engine.connect() as conn:
        order = (await conn.execute(select(orders))).mappings().one()
        line = (await conn.execute(select(order_lines))).mappings().one()
        stock = (await conn.execute(select(products.c.inventory_quantity))).scalar_one()
    assert order["total"] == Decimal("99999999999.9999")
    assert line["quantity"] == limits.MAX_QUANTITY and line["price"] == Decimal("99999999999.9999")
    assert stock == limits.INT32_MAX
    too_big = dict(opened, id="o2", message={"outbox_id": limits.INT64_MAX + 1})
    refused = await client.post("/api/v1/events", json=too_big)
    assert refused.status_code == 422 and refused_fields(refused) == {"message.outbox_id"}


async def test_a_batch_may_hold_the_limit_and_not_one_more(api: Any) -> None:
    client, runtime = api
    over = [placed(str(i)) for i in range(limits.MAX_EVENTS + 1)]
    refused = await client.post("/api/v1/events", json={"events": over})
    assert refused.status_code == 422 and refused_fields(refused) == {"events"}
    assert await count(runtime, events) == 0
    accepted = await client.post("/api/v1/events", json={"events": over[:limits.MAX_EVENTS]})
    assert accepted.status_code == 200
    assert await count(runtime, events) == limits.MAX_EVENTS


async def test_in_a_batch_the_event_and_its_field_are_named(api: Any) -> None:
    client, runtime = api
    late = placed("2")
    late["occurred_at"] = iso(NOW + timedelta(days=30))
    response = await client.post("/api/v1/events", json={"events": [placed("1"), late]})
    assert response.status_code == 422
    assert refused_fields(response) == {"events[1].occurred_at"}
    assert "1 day ahead" in response.json()["details"][0]["message"]
    assert await count(runtime, events) == 0


async def test_a_body_of_the_limit_is_read_and_one_byte_more_is_413(api: Any) -> None:
    client, runtime = api
    body = json.dumps(placed("1")).encode()
    padded = body + b" " * (limits.MAX_BODY_BYTES - len(body))  # JSON allows trailing whitespace
    accepted = await client.post("/api/v1/events", content=padded)
    assert accepted.status_code == 200
    over = json.dumps(placed("2")).encode()
    refused = await client.post("/api/v1/events", content=over + b" " * (limits.MAX_BODY_BYTES + 1 - len(over)))
    assert refused.status_code == 413 and refused.json()["error"] == "too_large"
    assert str(limits.MAX_BODY_BYTES) in refused.json()["message"]
    assert await count(runtime, events) == 1


async def test_a_number_too_long_to_read_is_refused(api: Any) -> None:
    client, runtime = api
    event = placed("1")
    event["properties"] = {"n": 1}
    body = json.dumps(event).encode().replace(b'"n": 1', b'"n": ' + b"7" * 5000)
    response = await client.post("/api/v1/events", content=body)
    assert response.status_code == 422 and response.json()["error"] == "number_too_long"
    assert await count(runtime, events) == 0


async def test_the_openapi_document_shows_the_limits(api: Any) -> None:
    client, _ = api
    doc = (await client.get("/api/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    post = doc["paths"]["/api/v1/events"]["post"]
    assert f"{limits.MAX_BODY_BYTES:,} bytes" in post["description"] and "413" in post["responses"]
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == limits.MAX_EVENTS
    assert schemas["OrderIn"]["properties"]["lines"]["maxItems"] == limits.MAX_LINES
    assert "1970-01-01" in schemas["Event"]["properties"]["occurred_at"]["description"]
    assert "day ahead" in schemas["Event"]["properties"]["occurred_at"]["description"]
    assert schemas["LineIn"]["properties"]["quantity"]["maximum"] == limits.MAX_QUANTITY
    inventory = json.dumps(schemas["ProductIn"]["properties"]["inventory_quantity"])
    assert str(limits.INT32_MAX) in inventory and str(limits.INT32_MIN) in inventory
    assert str(limits.INT64_MAX) in json.dumps(schemas["MessageRef"]["properties"]["outbox_id"])
    assert "11 digits" in json.dumps(schemas["OrderIn"]["properties"]["total"])


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/api/v1/content/how-to"), ("PUT", "/api/v1/segments/deep"), ("POST", "/api/v1/connections"),
    ("POST", "/api/v1/flows/order-confirmation/steps/0/send-test"), ("POST", "/public/kumo/back-in-stock"),
])
async def test_every_json_endpoint_refuses_a_body_nested_too_deep(api: Any, method: str, path: str) -> None:
    """(The platform webhooks: test_webhook_limits.py.)  3,000 levels: under the back-in-stock form's 4 KB."""
    client, _ = api
    response = await client.request(method, path, content=b"[" * 3000)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


async def test_the_body_limit_is_the_servers_setting_and_the_openapi_document_says_it(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(NOW), max_body_bytes=limits.MIN_BODY_BYTES) as runtime:
        _, key = await add_store(runtime)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            body = json.dumps(placed("1")).encode()
            at_limit = await client.post("/api/v1/events", content=body + b" " * (limits.MIN_BODY_BYTES - len(body)))
            over = await client.post("/api/v1/events", content=body + b" " * (limits.MIN_BODY_BYTES + 1 - len(body)))
            doc = (await client.get("/api/openapi.json")).json()
    assert at_limit.status_code == 200 and over.status_code == 413
    assert f"{limits.MIN_BODY_BYTES:,} bytes" in doc["paths"]["/api/v1/events"]["post"]["description"]


async def test_the_fast_path_and_the_framework_route_refuse_alike(sqlite_url: str) -> None:
    """``web/fast_ingest.py`` answers POST /api/v1/events ahead of FastAPI; the route FastAPI would take
    answers every limit the same (the stack built without the fast path, as FastAPI builds it)."""
    async with running(sqlite_url, FrozenClock(NOW)) as runtime:
        _, key = await add_store(runtime)
        app = create_app(runtime)
        framework = type(app).build_middleware_stack(app)

        async def framework_only(scope: Any, receive: Any, send: Any) -> None:
            scope["app"] = app
            await framework(scope, receive, send)

        late, quantity = placed("late"), placed("quantity")
        late["occurred_at"] = "9999-12-31T23:59:59Z"
        quantity["order"]["lines"][0]["quantity"] = limits.MAX_QUANTITY + 1
        bodies = [b"[" * 100_000, json.dumps(late).encode(), json.dumps(quantity).encode(),
                  b" " * (limits.MAX_BODY_BYTES + 1)]
        answers: dict[str, list[tuple[int, Any]]] = {}
        for name, target in (("fast", app), ("framework", framework_only)):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="http://test",
                                         headers={"Authorization": f"Bearer {key}"}) as client:
                answers[name] = [((r := await client.post("/api/v1/events", content=body)).status_code, r.json())
                                 for body in bodies]
        assert [status for status, _ in answers["fast"]] == [422, 422, 422, 413]
        assert answers["fast"] == answers["framework"]
        assert await count(runtime, events) == 0

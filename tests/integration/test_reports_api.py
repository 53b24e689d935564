"""The report endpoints as a store's developer meets them: the Bearer key, the figures, named bad parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from afterorder.clock import FrozenClock
from afterorder.web.app import create_app
from tests.factories import JP_STORE, US_STORE, add_store, running
from tests.retention_history import PRODUCT_HISTORY, RETENTION_HISTORY, store_history

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)


@pytest.fixture
async def api(database_url: str) -> Any:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store, key = await add_store(runtime, JP_STORE)
        await store_history(runtime, store, RETENTION_HISTORY + PRODUCT_HISTORY)
        _, other_key = await add_store(runtime, US_STORE)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            yield client, other_key


async def test_retention_and_product_cycle_reports_for_the_keys_store(api: Any) -> None:
    client, other_key = api
    answer = await client.get("/api/v1/reports/retention",
                              params={"from": "2026-04-01", "to": "2026-06-30", "granularity": "quarter"})
    assert answer.status_code == 200
    data = answer.json()
    # The retention history (B 5, E 8, N 4) plus the product history's 3 customers active at both ends.
    assert data["retention"] == {"customers_at_start": 8, "customers_at_end": 11, "new_customers": 4, "crr": 87.5}
    assert data["series"] == {"granularity": "quarter", "periods": [
        {"label": "2026-Q2", "from": "2026-04-01", "to": "2026-06-30", "customers_at_start": 8,
         "customers_at_end": 11, "new_customers": 4, "crr": 87.5}]}
    assert [c["cohort"] for c in data["cohorts"]] == ["2026-04", "2026-05", "2026-06"]

    shorter = (await client.get("/api/v1/reports/retention",
                                params={"from": "2026-04-01", "to": "2026-06-30", "active_days": "90"})).json()
    assert shorter["active_days"] == 90 and shorter["retention"]["customers_at_start"] == 4  # c10, pa, pb, pc

    cycles = (await client.get("/api/v1/reports/product-cycle", params={"min_sample": "1"})).json()
    by_product = {p["product"]: (p["days"], p["sample"], p["source"]) for p in cycles["products"]}
    assert by_product["sencha"] == (30.0, 5, "history") and by_product["hojicha"] == (20.0, 1, "history")
    assert by_product["kyusu"] == (None, 0, None)
    # The catalog says a kyusu lasts 90 days: with no history of its own, that is its cycle.
    stored = await client.post("/api/v1/events", json={
        "id": "catalog-kyusu", "type": "product.updated", "occurred_at": NOW.isoformat(),
        "product": {"id": "kyusu", "title": "急須", "replenish_days": 90}})
    assert stored.status_code == 200
    cycles = (await client.get("/api/v1/reports/product-cycle", params={"min_sample": "1"})).json()
    by_product = {p["product"]: (p["days"], p["sample"], p["source"]) for p in cycles["products"]}
    assert by_product["kyusu"] == (90, 0, "catalog") and by_product["sencha"] == (30.0, 5, "history")

    # Another store's key sees its own (empty) history.
    other = (await client.get("/api/v1/reports/retention", params={"from": "2026-04-01", "to": "2026-06-30"},
                              headers={"Authorization": f"Bearer {other_key}"})).json()
    assert other["store"] == "harbor" and other["retention"]["customers_at_end"] == 0 and other["cohorts"] == []


BAD = [
    ("retention", {"to": "2026-06-30"}, "from: required; give a day as YYYY-MM-DD"),
    ("retention", {"from": "2026-04-01", "to": "30.06.2026"}, "to: '30.06.2026' is not a date; use YYYY-MM-DD"),
    ("retention", {"from": "2026-07-01", "to": "2026-06-30"}, "from: 2026-07-01 is after to 2026-06-30"),
    ("retention", {"from": "2026-04-01", "to": "2026-06-30", "active_days": "year"},
     "active_days: 'year' is not a whole number"),
    ("retention", {"from": "2026-04-01", "to": "2026-06-30", "active_days": "0"}, "active_days: 0 is out of range"),
    ("retention", {"from": "2026-04-01", "to": "2026-06-30", "granularity": "week"},
     "granularity: 'week' is not one of month, quarter"),
    ("product-cycle", {"min_sample": "0"}, "min_sample: 0 is out of range"),
]


async def test_bad_parameters_are_named_in_a_400(api: Any) -> None:
    client, _ = api
    for path, params, message in BAD:
        answer = await client.get(f"/api/v1/reports/{path}", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["error"] == "invalid_parameter" and answer.json()["message"].startswith(message)


async def test_reports_need_the_stores_key(api: Any) -> None:
    client, _ = api
    for path in ("retention?from=2026-04-01&to=2026-06-30", "product-cycle"):
        answer = await client.get(f"/api/v1/reports/{path}", headers={"Authorization": "Bearer ao_wrong"})
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"

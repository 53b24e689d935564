"""The compliance REST API: settings and consent records, with clear errors."""

from __future__ import annotations

import httpx

from afterorder.clock import FrozenClock
from afterorder.web.app import create_app
from tests.compliance_helpers import ingest
from tests.conftest import T0
from tests.factories import add_store, order_event, running


async def test_settings_and_consents_over_the_api(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store, key = await add_store(runtime)
        await ingest(runtime, store, order_event("order.placed", "A1", T0))
        auth = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=create_app(runtime), client=("198.51.100.4", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=auth) as http:
            assert (await http.get("/api/v1/compliance")).json()["marketing_rule"] == "opt-in"  # JP
            changed = await http.patch("/api/v1/compliance", json={"marketing_rule": "opt-out", "caps": ["email:2/24"],
                                                                    "quiet_hours": "22:00-07:00"})
            assert changed.status_code == 200
            assert changed.json()["caps"] == {"email": {"max_messages": 2, "window_hours": 24}}
            assert changed.json()["quiet_hours"] == "22:00-07:00" and changed.json()["marketing_rule"] == "opt-out"
            for bad, field in (({"marketing_rule": "maybe"}, "marketing_rule"), ({"quiet_hours": "late"}, "quiet"),
                               ({"caps": ["email:lots"]}, "cap"), ({"dkim": "x"}, "dkim")):
                answer = await http.patch("/api/v1/compliance", json=bad)
                assert answer.status_code == 422 and field in answer.text, answer.text
            assert (await http.get("/api/v1/compliance")).json()["marketing_rule"] == "opt-out"

            given = {"customer_id": "cust-A1", "status": "granted", "wording": "ニュースレターを受け取る"}
            first = await http.post("/api/v1/consents", json=given)
            assert first.status_code == 201 and first.json() == {"changed": True}
            assert (await http.post("/api/v1/consents", json=given)).json() == {"changed": False}
            assert (await http.post("/api/v1/consents", json={**given, "customer_id": "nobody"})).status_code == 404
            assert (await http.post("/api/v1/consents", json={**given, "purpose": "spam"})).status_code == 422
            assert (await http.post("/api/v1/consents", json={**given, "status": "maybe"})).status_code == 422

            record = (await http.get("/api/v1/consents/cust-A1")).json()
            assert record["consents"] == [{"channel": "email", "purpose": "marketing", "status": "granted"}]
            [change] = record["changes"]
            assert change["method"] == "form" and change["source_ip"] == "198.51.100.4"
            assert change["wording"] == "ニュースレターを受け取る" and change["at"].startswith("2026-11-22T01:00")
            assert (await http.get("/api/v1/compliance", headers={"Authorization": "Bearer nope"})).status_code == 401

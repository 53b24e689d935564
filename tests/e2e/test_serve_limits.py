"""Against a real ``afterorder serve`` on loopback: the requests of issue 21's "limits at the door" are
refused with 4xx naming the problem, the server logs no traceback, and nothing of them is stored or sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.intake import limits
from tests.e2e.processes import add_store_cli, serve
from tests.factories import order_event


async def test_the_attackers_requests_are_refused_at_the_door(sqlite_url: str, smtp_server: DevSmtpServer,
                                                              tmp_path: Path) -> None:
    store = add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    log = tmp_path / "serve.log"
    now = datetime.now(UTC)
    year_one = order_event("order.placed", "Y1", now, email="y1@example.jp", occurred_at="0001-01-01T00:00:00Z")
    year_9999 = order_event("order.placed", "Y9", now, email="y9@example.jp", occurred_at="9999-12-31T23:59:59Z")
    async with serve(sqlite_url, smtp_server.url, log=log) as url, httpx.AsyncClient(timeout=30) as client:
        headers = {"Authorization": f"Bearer {store['api_key']}", "Content-Type": "application/json"}
        deep = await client.post(f"{url}/api/v1/events", content=b"[" * 100_000, headers=headers)
        early = await client.post(f"{url}/api/v1/events", content=json.dumps(year_one), headers=headers)
        late = await client.post(f"{url}/api/v1/events", content=json.dumps(year_9999), headers=headers)
        huge = await client.post(f"{url}/api/v1/events", content=b" " * (limits.MAX_BODY_BYTES + 1), headers=headers)
        outbox = (await client.get(f"{url}/api/v1/outbox", headers=headers)).json()["messages"]
        runs = (await client.get(f"{url}/api/v1/runs", headers=headers)).json()["runs"]
    assert (deep.status_code, deep.json()["error"]) == (422, "too_deep")
    assert early.status_code == 422 and [d["field"] for d in early.json()["details"]] == ["occurred_at"]
    assert "1970-01-01" in early.json()["details"][0]["message"]
    assert late.status_code == 422 and [d["field"] for d in late.json()["details"]] == ["occurred_at"]
    assert "1 day ahead" in late.json()["details"][0]["message"]
    assert huge.status_code == 413
    assert outbox == [] and runs == [], "nothing of a refused request is stored"
    written = log.read_text()
    assert "Traceback" not in written and "RecursionError" not in written and "OverflowError" not in written

"""A message that cannot be rendered (a template broken for this data, or data stored before the limits
at the door, such as a year-9999 order) fails alone and says why: the message is kept as failed with the
reason, its run is failed with it, both show in the API and on the runs page, and the other runs go on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from afterorder.clock import FrozenClock
from afterorder.db.dashboard_users import Role, add_user
from afterorder.domain import Event
from afterorder.web.app import create_app
from tests.factories import add_store, order_event, running
from tests.integration.test_dashboard import PASSWORD, log_in

NOW = datetime.now(UTC).replace(microsecond=0)


async def test_an_order_whose_date_cannot_be_printed_fails_alone_and_says_why(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store, key = await add_store(runtime)
        legacy = order_event("order.placed", "FAR", NOW)
        legacy["occurred_at"] = "9999-12-31T23:59:59Z"  # what the API stored before it had limits
        fine = [order_event("order.placed", f"OK{i}", NOW - timedelta(minutes=i)) for i in range(3)]
        await runtime.intake.ingest(store, [Event.model_validate(e) for e in [fine[0], legacy, *fine[1:]]])
        while await runtime.scheduler.run_due():
            pass

        async with runtime.engine.begin() as conn:
            await add_user(conn, "owner", PASSWORD, [(store.id, Role.OWNER)], NOW)
        app = create_app(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            runs = (await client.get("/api/v1/runs", params={"flow": "order-confirmation"})).json()["runs"]
            messages = (await client.get("/api/v1/outbox")).json()["messages"]
            page = (await client.get("/runs")).text
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
            await log_in(http, "owner")
            failed_run = next(r for r in runs if r["status"] == "failed")
            customer_page = (await http.get(f"/dashboard/{store.slug}/customers/{failed_run['customer_id']}")).text
        by_status: dict[str, list[dict[str, Any]]] = {}
        for run in runs:
            by_status.setdefault(run["status"], []).append(run)
        assert len(by_status["failed"]) == 1 and len(by_status["done"]) == 3, runs
        failed = by_status["failed"][0]
        assert "not rendered: OverflowError: date value out of range" in failed["outcome"]
        assert failed["outcome"] in page, "the runs page shows the reason"
        mine = [m for m in messages if m["status"] == "failed"]
        assert len(mine) == 1 and mine[0]["last_error"] == "not rendered: OverflowError: date value out of range"
        assert sorted(m["status"] for m in messages) == ["failed", "queued", "queued", "queued"]
        assert "not rendered: OverflowError: date value out of range" in customer_page, \
            "the store's dashboard shows it on the customer's page (the message and the run)"

"""The scheduler advances due runs in batches: what one run does never spoils the others."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from afterorder.channels.email.mime import message_id_for
from afterorder.clock import FrozenClock
from afterorder.db.schema import flow_runs, outbox, outbox_bodies, run_log
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import add_store, order_event, running


async def rows(runtime: Runtime, table: Any) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table).order_by(table.c.id))).mappings()]


@pytest.mark.parametrize("render_processes", [0, 1], ids=["rendered-here", "rendered-in-a-helper"])
async def test_a_run_whose_message_fails_to_render_fails_alone(database_url: str, tmp_path: Path,
                                                               render_processes: int) -> None:
    broken = tmp_path / "templates" / "order-confirmation"
    broken.mkdir(parents=True)
    (broken / "en.html").write_text("{% block subject %}{{ customer.no_such_field }}{% endblock %}")
    async with running(database_url, FrozenClock(T0), template_dirs=(tmp_path / "templates",),
                       render_processes=render_processes) as runtime:
        store, _ = await add_store(runtime)
        events = [order_event("order.placed", f"B{i}", T0, locale="en" if i == 3 else "ja") for i in range(6)]
        await runtime.intake.ingest(store, [Event.model_validate(e) for e in events])
        assert await runtime.scheduler.run_due() == 6
        assert await runtime.scheduler.run_due() == 0

        runs = {r["order_id"]: r for r in await rows(runtime, flow_runs) if r["flow_id"] == "order-confirmation"}
        failed = [r for r in runs.values() if r["status"] == "failed"]
        assert len(failed) == 1 and failed[0]["outcome"].startswith("order-confirmation not rendered: UndefinedError")
        assert "no_such_field" in failed[0]["outcome"], "the reason is on the run"
        assert failed[0]["claimed_by"] is None and failed[0]["wake_at"] is None
        assert Counter(r["status"] for r in runs.values()) == {"done": 5, "failed": 1}

        everything = await rows(runtime, outbox)
        not_rendered = [m for m in everything if m["run_id"] == failed[0]["id"]]
        assert len(not_rendered) == 1 and not_rendered[0]["status"] == "failed", "the message is kept as failed"
        assert not_rendered[0]["last_error"].startswith("not rendered: UndefinedError")
        messages = [m for m in everything if m["run_id"] != failed[0]["id"]]
        assert len(messages) == 5 and {m["status"] for m in messages} == {"queued"}
        snapshot = store.snapshot(runtime.settings.base_url)
        for message in messages:
            run = next(r for r in runs.values() if r["id"] == message["run_id"])
            assert message["idempotency_key"] == f"run:{run['id']}:step:0"
            assert message["message_id"] == message_id_for(snapshot, message["idempotency_key"])
        logged = Counter((r["run_id"], r["kind"]) for r in await rows(runtime, run_log))
        assert {kind for run_id, kind in logged if run_id == failed[0]["id"]} == {"failed"}
        assert all(logged[(run["id"], "send")] == 1 for run in runs.values() if run["status"] == "done")


async def test_a_customer_without_an_email_address_gets_a_skipped_message(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        event = order_event("order.placed", "N1", T0)
        del event["customer"]["email"]
        await runtime.intake.ingest(store, [Event.model_validate(event),
                                            Event.model_validate(order_event("order.placed", "N2", T0))])
        while await runtime.scheduler.run_due():
            pass
        by_status = {m["status"]: m for m in await rows(runtime, outbox)}
        assert set(by_status) == {"skipped", "queued"}
        assert by_status["skipped"]["last_error"] == "customer has no email address"
        assert by_status["queued"]["last_error"] is None
        async with runtime.engine.connect() as conn:
            bodies = {b.idempotency_key for b in await conn.execute(select(outbox_bodies.c.idempotency_key))}
        assert bodies == {by_status["queued"]["idempotency_key"]}, "a skipped message has no body to keep"


async def test_a_run_ended_while_its_message_renders_writes_nothing(sqlite_url: str) -> None:
    """Rendering happens with no transaction open; a refund that lands meanwhile wins."""
    import sqlite3

    from afterorder.content import Renderer
    from afterorder.domain import RenderedMessage
    from afterorder.flows.scheduler import Scheduler, SchedulerSettings

    path = sqlite_url.removeprefix("sqlite:///")

    class RefundArrivesMidRender(Renderer):
        def render(self, *args: Any, **kwargs: Any) -> RenderedMessage:
            with sqlite3.connect(path, timeout=10) as db:  # another process ends the run meanwhile
                db.execute("UPDATE flow_runs SET status = 'exited', outcome = 'exit_on order.refunded'")
            return super().render(*args, **kwargs)

    clock = FrozenClock(T0)
    async with running(sqlite_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", "R1", T0))])
        scheduler = Scheduler(runtime.engine, runtime.catalog, RefundArrivesMidRender(), clock,
                              SchedulerSettings(worker_id="w1"), signers=runtime.signers)
        assert await scheduler.run_due() == 1
        assert await rows(runtime, outbox) == []
        [run] = await rows(runtime, flow_runs)
        assert run["status"] == "exited" and run["outcome"] == "exit_on order.refunded"

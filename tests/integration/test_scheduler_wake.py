"""The scheduler's wake: runs that only move from one wait to the next (a delivery follow-up whose wait
for the delivery times out into ``wait: 3d``) are advanced on their flow and events alone, without
reading their orders or customers; runs that look at more (an ``if:``, a send) are read in full."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.clock import FrozenClock
from afterorder.db.schema import flow_runs, outbox, run_log
from afterorder.domain import Event
from afterorder.flows.scheduler import Scheduler, SchedulerSettings
from afterorder.flows.urgency import FIRST, LATER
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import add_store, order_event, running

FOLLOW_UP = "delivery-follow-up"
TEN_DAYS = timedelta(days=10)


async def shipped(runtime: Runtime, store: Any, prefix: str, count: int) -> None:
    now = runtime.clock.now()
    await runtime.intake.ingest(store, [Event.model_validate(order_event("order.shipped", f"{prefix}{i}", now))
                                        for i in range(count)])


async def settle(runtime: Runtime) -> None:
    while await runtime.scheduler.run_due():
        pass


async def follow_ups(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(
            select(flow_runs).where(flow_runs.c.flow_id == FOLLOW_UP).order_by(flow_runs.c.id))).mappings()]


@contextmanager
def statements(*engines: AsyncEngine) -> Iterator[list[str]]:
    """The SQL every one of ``engines`` runs while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    targets = list({id(e): e.sync_engine for e in engines}.values())
    for target in targets:
        event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for target in targets:
            event.remove(target, "before_cursor_execute", record)


async def test_runs_that_only_wait_are_woken_without_reading_their_orders(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await shipped(runtime, store, "W", 5)
        await settle(runtime)  # the shipping notices sent; the follow-ups wait for the delivery
        before = await follow_ups(runtime)
        assert {(r["status"], r["waiting_for"]) for r in before} == {("waiting", "order.delivered")}
        assert len(before) == 5
        assert {r["priority"] for r in before} == {LATER}, "its wake sends nothing: after any confirmation"

        clock.advance((TEN_DAYS + timedelta(seconds=1)).total_seconds())  # no delivery news in ten days
        with statements(runtime.engine, runtime.reader) as seen:
            assert await runtime.scheduler.run_due() == 5
        read = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
        assert read, "the runs themselves are read"
        for table in ("orders", "order_lines", "customers", "customer_stats", "consents"):
            assert not [s for s in read if f"FROM {table} " in s or f"FROM {table}\n" in s], f"{table} read"

        after = {r["id"]: r for r in await follow_ups(runtime)}
        for run in before:
            woken = after[run["id"]]
            assert woken["status"] == "waiting" and woken["waiting_for"] is None
            assert woken["step"] == run["step"] + 1
            assert woken["anchor_at"] == run["anchor_at"] + TEN_DAYS, "the three days count from the timeout"
            assert woken["wake_at"] == woken["anchor_at"] + timedelta(days=3)
            assert woken["priority"] == FIRST, "its next message is the (transactional) follow-up"
            assert woken["claimed_by"] is None and woken["claimed_until"] is None
        async with runtime.engine.connect() as conn:
            logged = (await conn.execute(select(run_log.c.run_id, run_log.c.kind).where(
                run_log.c.run_id.in_(list(after)), run_log.c.kind == "timeout"))).all()
        assert sorted(r.run_id for r in logged) == sorted(after), "one timeout logged a run"

        clock.advance(timedelta(days=3).total_seconds())  # the follow-up itself is read in full and sent
        await settle(runtime)
        async with runtime.engine.connect() as conn:
            mails = (await conn.execute(select(outbox.c.run_id).where(outbox.c.template == FOLLOW_UP))).all()
        assert sorted(m.run_id for m in mails) == sorted(after)
        assert {r["status"] for r in await follow_ups(runtime)} == {"done"}


async def test_a_run_ended_by_an_event_after_its_claim_is_not_woken(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await shipped(runtime, store, "R", 3)
        await settle(runtime)
        clock.advance((TEN_DAYS + timedelta(seconds=1)).total_seconds())
        step = {r["step"] for r in await follow_ups(runtime)}
        ids = await runtime.scheduler.claim()
        assert len(ids) == 3
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.refunded", "R1", clock.now()))])
        assert await runtime.scheduler.wake(ids) == [], "nothing of theirs needs a full read"
        by_order = {r["order_id"]: r for r in await follow_ups(runtime)}
        ended = [r for r in by_order.values() if r["status"] == "exited"]
        assert len(ended) == 1 and ended[0]["outcome"] == "exit_on order.refunded"
        assert {ended[0]["step"]} == step, "the wake moved nothing of the ended run"
        async with runtime.engine.connect() as conn:
            kinds = (await conn.execute(select(run_log.c.kind).where(run_log.c.run_id == ended[0]["id"]))).scalars()
            assert "timeout" not in set(kinds)
        assert sorted(r["status"] for r in by_order.values()) == ["exited", "waiting", "waiting"]
        assert await runtime.scheduler.run_due() == 0


async def test_claims_grow_while_they_only_wake_runs_and_read_no_more_than_a_batch_in_full(
        database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await shipped(runtime, store, "S", 20)
        await settle(runtime)
        ids = [r["id"] for r in await follow_ups(runtime)]
        async with runtime.engine.begin() as conn:  # six of them back at their if: (read in full), due just after
            await conn.execute(flow_runs.update().where(flow_runs.c.id.in_(ids[14:])).values(
                step=0, waiting_for=None, wake_at=T0 + TEN_DAYS + timedelta(milliseconds=500)))
        clock.advance((TEN_DAYS + timedelta(seconds=1)).total_seconds())
        scheduler = Scheduler(runtime.engine, runtime.catalog, runtime.renderer, clock,
                              SchedulerSettings(worker_id="small-claims", batch=2, chunk=1, wake_batch=8),
                              renderers=runtime.renderers, reader=runtime.reader, signers=runtime.signers)
        counts = [await scheduler.run_due() for _ in range(7)]
        # 14 sleeping runs (due first) in claims of 2, 4, 8; then a claim of 8 meets the 6 at their if:,
        # reads 2 in full and gives 4 back; claims are of 2 again from there
        assert counts == [2, 4, 8, 2, 2, 2, 0]

        runs = await follow_ups(runtime)
        assert {(r["status"], r["step"], r["waiting_for"], r["wake_at"], r["claimed_by"]) for r in runs} == {
            ("waiting", runs[0]["step"], None, T0 + TEN_DAYS + timedelta(days=3), None)}, "all moved alike"
        async with runtime.engine.connect() as conn:
            later = (await conn.execute(select(outbox.c.id).where(outbox.c.created_at > T0))).all()
        assert later == [], "nothing to send yet"

"""Workers as separate processes: killed with -9 mid-work, and two sharing one PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from afterorder.clock import SystemClock
from afterorder.db.schema import delivery_attempts, flow_runs, outbox
from afterorder.delivery import DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import RuntimeSettings
from tests.conftest import T0
from tests.e2e.processes import start_worker, stop
from tests.factories import add_store, order_event, running

RUNS = 1000
WORKER_CONCURRENCY = RuntimeSettings(database_url="").delivery_concurrency  # the worker's default


async def due_runs(database_url: str, n: int = RUNS) -> None:
    """n order confirmations due now, and no worker running yet."""
    async with running(database_url, SystemClock()) as runtime:
        store, _ = await add_store(runtime)
        events = [Event.model_validate(order_event("order.placed", f"K{i}", T0)) for i in range(n)]
        for start in range(0, n, 500):
            await runtime.intake.ingest(store, events[start:start + 500])


async def outbox_state(database_url: str) -> dict[str, Any]:
    async with running(database_url, SystemClock()) as runtime, runtime.engine.connect() as conn:
        ids = [r.message_id for r in await conn.execute(select(outbox.c.message_id))]
        statuses = Counter(r.status for r in await conn.execute(select(outbox.c.status)))
        interrupted = (await conn.execute(select(func.count()).select_from(delivery_attempts)
                                          .where(delivery_attempts.c.outcome == "interrupted"))).scalar_one()
        workers = {r.worker for r in await conn.execute(select(delivery_attempts.c.worker).distinct())}
        runs_done = (await conn.execute(select(func.count()).select_from(flow_runs)
                                        .where(flow_runs.c.status == "done"))).scalar_one()
    return {"ids": ids, "statuses": statuses, "interrupted": interrupted, "workers": workers, "runs_done": runs_done}


async def wait_distinct(smtp: DevSmtpServer, n: int, timeout: float) -> None:
    for _ in range(int(timeout * 10)):
        if len(set(smtp.inbox.message_ids())) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {len(set(smtp.inbox.message_ids()))} of {n} distinct messages arrived")


async def test_kill_9_in_the_middle_then_restart_every_message_arrives_once(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    await due_runs(database_url)
    first = start_worker(database_url, smtp_server.url, "--lease", "3")
    for _ in range(600):
        if smtp_server.inbox.count() >= 150:
            break
        await asyncio.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    at_kill = smtp_server.inbox.count()
    assert 0 < at_kill < RUNS, f"the kill came mid-way ({at_kill} of {RUNS} delivered)"

    second = start_worker(database_url, smtp_server.url, "--lease", "3")
    try:
        await wait_distinct(smtp_server, RUNS, timeout=120)
        await asyncio.sleep(0.5)
    finally:
        await stop(second)
    state = await outbox_state(database_url)
    received = Counter(smtp_server.inbox.message_ids())
    assert sorted(received) == sorted(state["ids"]) and len(state["ids"]) == RUNS, "every message, no strangers"
    assert state["statuses"] == {"sent": RUNS} and state["runs_done"] == RUNS
    resent = sum(c - 1 for c in received.values())
    # A message the server accepted in the instant before the kill, whose outcome was not yet written,
    # is sent again with the same Message-ID; each such resend is an attempt on record as interrupted.
    assert resent <= state["interrupted"], f"{resent} resends but only {state['interrupted']} interrupted attempts"
    bound = DeliverySettings(worker_id="w", concurrency=WORKER_CONCURRENCY).resend_bound
    assert resent <= bound, f"{resent} resends, more than the {bound} outcomes that can be unrecorded at a kill"


@pytest.mark.postgres
async def test_two_workers_share_1000_due_runs_on_postgresql(
        postgres_database: str, smtp_server: DevSmtpServer) -> None:
    from tests.conftest import _reset_postgres

    await _reset_postgres(postgres_database)
    await due_runs(postgres_database)
    workers = [start_worker(postgres_database, smtp_server.url) for _ in range(2)]
    try:
        await wait_distinct(smtp_server, RUNS, timeout=120)
        await asyncio.sleep(0.5)
    finally:
        for process in workers:
            await stop(process)
    state = await outbox_state(postgres_database)
    received = Counter(smtp_server.inbox.message_ids())
    assert len(received) == RUNS and set(received.values()) == {1}, "each message exactly once"
    assert sorted(received) == sorted(state["ids"])
    assert state["statuses"] == {"sent": RUNS} and len(state["workers"]) == 2, "both workers took a share"

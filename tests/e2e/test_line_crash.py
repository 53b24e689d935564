"""Exactly once on LINE through a crash: 2,000 order confirmations going out as LINE pushes, the worker
killed with SIGKILL while they are in flight and started again.  LINE keeps each retry key's message
once and answers a repeat with 409, which afterorder records as sent: every customer gets their
confirmation exactly once, none is lost, and the repeats are bounded by what can be unrecorded at a
kill (concurrency + one commit's worth)."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from afterorder.channels.setup import set_provider, update_prefs
from afterorder.clock import SystemClock
from afterorder.db.schema import outbox
from afterorder.delivery import DeliverySettings
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink
from afterorder.domain import Event
from afterorder.runtime import RuntimeSettings
from tests.conftest import T0
from tests.e2e.processes import start_worker, stop
from tests.factories import add_store, order_event, running
from tests.loopback import loopback
from tests.outbox_rows import line_user

ORDERS = 2000
WORKER_CONCURRENCY = RuntimeSettings(database_url="").delivery_concurrency  # the worker's default


async def queue_orders(database: str, line_api: str) -> None:
    async with running(database, SystemClock()) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await set_provider(conn, runtime.sealer, store.id, "line", {
                "channel_access_token": DEV_TOKEN, "channel_secret": "secret", "api_base": line_api},
                runtime.clock.now())
            await update_prefs(conn, store.id, runtime.clock.now(), order=["line", "email"])
        events = []
        for n in range(ORDERS):
            event = order_event("order.placed", f"C{n}", T0)
            event["customer"]["line_user_id"] = line_user(n)
            events.append(Event.model_validate(event))
        for start in range(0, ORDERS, 500):
            await runtime.intake.ingest(store, events[start:start + 500])


async def test_kill_9_with_line_pushes_in_flight_each_is_held_once(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERORDER_SECRET_KEY", Fernet.generate_key().decode())
    sink = LineSink(latency=0.01)  # each push takes 10 ms to answer: several are in flight at any moment
    async with loopback(sink.app()) as line_api:
        await queue_orders(sqlite_url, line_api)
        first = start_worker(sqlite_url, "smtp://127.0.0.1:9", "--lease", "3")
        await sink.wait_for(300, within=120)
        first.send_signal(signal.SIGKILL)
        first.wait()
        at_kill = len(sink.accepted)
        assert 300 <= at_kill < ORDERS, f"the kill came mid-way ({at_kill} of {ORDERS})"

        second = start_worker(sqlite_url, "smtp://127.0.0.1:9", "--lease", "3")
        try:
            await sink.wait_for(ORDERS, within=240)
            for _ in range(300):  # the last outcomes are committed a moment after LINE took them
                if not await unsent(sqlite_url):
                    break
                await asyncio.sleep(0.2)
        finally:
            await stop(second)

    held = Counter(a.key for a in sink.accepted)
    assert len(held) == ORDERS and set(held.values()) == {1}, "each retry key's message held exactly once"
    assert Counter(a.to for a in sink.accepted) == Counter({line_user(n): 1 for n in range(ORDERS)}), (
        "every customer got their confirmation, once")
    repeats = sum(1 for r in sink.requests if r.headers.get("x-line-retry-key") in held) - ORDERS
    bound = DeliverySettings(worker_id="w", concurrency=WORKER_CONCURRENCY).resend_bound
    assert 0 <= repeats <= bound, f"{repeats} repeats answered 409, more than {bound} can be unrecorded at a kill"
    async with running(sqlite_url, SystemClock()) as runtime, runtime.engine.connect() as conn:
        statuses = Counter(r.status for r in await conn.execute(select(outbox.c.status)))
        channels = Counter(r.channel for r in await conn.execute(select(outbox.c.channel)))
    assert statuses == {"sent": ORDERS} and channels == {"line": ORDERS}, "nothing lost, nothing by email"


async def unsent(database: str) -> int:
    async with running(database, SystemClock()) as runtime, runtime.engine.connect() as conn:
        return len((await conn.execute(select(outbox.c.id).where(outbox.c.status != "sent"))).all())

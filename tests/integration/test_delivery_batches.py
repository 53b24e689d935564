"""Delivery claims the next batch while one is being sent, and never starts a send its lease cannot cover."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from afterorder.channels import OutgoingMessage, RetryPolicy, SendOutcome, SendResult, SmtpChannel
from afterorder.clock import FrozenClock
from afterorder.db.schema import delivery_attempts, outbox
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import add_store, order_event, running


async def queue_orders(runtime: Runtime, n: int) -> None:
    store, _ = await add_store(runtime)
    await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", f"Q{i}", T0))
                                        for i in range(n)])
    while await runtime.scheduler.run_due():
        pass


async def rows(runtime: Runtime, table: Any) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table).order_by(table.c.id))).mappings()]


async def test_several_claims_in_one_run_deliver_each_message_once(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url)
    async with running(database_url, clock, channel=channel) as runtime:
        await queue_orders(runtime, 7)
        worker = Delivery(runtime.engine, channel, clock, RetryPolicy(),
                          DeliverySettings(worker_id="w", batch=2, concurrency=2, claims_per_run=3))
        assert await worker.run_due() == 6, "three full claims of two"
        assert await worker.run_due() == 1
        assert await worker.run_due() == 0
        queued_ids = [m["message_id"] for m in await rows(runtime, outbox)]
        assert sorted(smtp_server.inbox.message_ids()) == sorted(queued_ids) and len(set(queued_ids)) == 7
        assert {m["status"] for m in await rows(runtime, outbox)} == {"sent"}
        assert [a["outcome"] for a in await rows(runtime, delivery_attempts)] == ["sent"] * 7


class SlowChannel:
    """Each send takes 40 seconds of the (frozen) clock."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.sent: list[str] = []

    async def send(self, email: OutgoingMessage) -> SendResult:
        self.sent.append(email.message_id)
        self.clock.advance(40)
        return SendResult(SendOutcome.SENT, 250, "ok")

    async def close(self) -> None:
        pass


async def test_a_message_whose_lease_runs_short_waits_for_the_next_claim(database_url: str) -> None:
    clock = FrozenClock(T0)
    channel = SlowChannel(clock)
    async with running(database_url, clock, channel=channel) as runtime:
        await queue_orders(runtime, 2)
        worker = Delivery(runtime.engine, channel, clock, RetryPolicy(),
                          DeliverySettings(worker_id="w", lease=timedelta(seconds=60), concurrency=1))
        await worker.run_due()
        assert len(channel.sent) == 1, "the second send would start 40 s into a 60 s lease"
        statuses = Counter(m["status"] for m in await rows(runtime, outbox))
        assert statuses == {"sent": 1, "sending": 1}
        clock.advance(30)  # the lease has ended
        assert await worker.run_due() == 1
        assert len(set(channel.sent)) == 2 and len(channel.sent) == 2
        assert {m["status"] for m in await rows(runtime, outbox)} == {"sent"}
        outcomes = Counter(a["outcome"] for a in await rows(runtime, delivery_attempts))
        assert outcomes == {"sent": 2, "interrupted": 1}


async def test_outcomes_a_failed_commit_could_not_write_go_with_the_next_and_each_is_recorded_once(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url)
    async with running(database_url, clock, channel=channel) as runtime:
        await queue_orders(runtime, 6)
        failures = ["the database went away for a moment"]

        def fail_once(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool) -> None:
            if many and statement.lstrip().lower().startswith("update outbox") and failures:
                raise RuntimeError(failures.pop())

        event.listen(runtime.engine.sync_engine, "before_cursor_execute", fail_once)
        worker = Delivery(runtime.engine, channel, clock, RetryPolicy(),
                          DeliverySettings(worker_id="w", concurrency=3, group_wait=0.0))
        with pytest.raises(RuntimeError, match="went away"):
            await worker.run_due()
        for _ in range(100):  # the other sends go on, and one of them writes what the failed commit held
            if {m["status"] for m in await rows(runtime, outbox)} == {"sent"}:
                break
            await asyncio.sleep(0.05)

        assert {m["status"] for m in await rows(runtime, outbox)} == {"sent"}
        assert Counter(a["outbox_id"] for a in await rows(runtime, delivery_attempts)
                       if a["outcome"] == "sent") == Counter({m["id"]: 1 for m in await rows(runtime, outbox)})
        assert len(smtp_server.inbox.message_ids()) == 6

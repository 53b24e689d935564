"""Delivery to a real SMTP server: retries with backoff while it is down, attempts on record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.clock import FrozenClock
from afterorder.db.schema import delivery_attempts, outbox
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import US_STORE, add_store, order_event, running


async def queue_orders(runtime: Runtime, n: int, **kw: Any) -> None:
    store, _ = await add_store(runtime)
    await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", f"O{i}", T0, **kw))
                                        for i in range(n)])
    while await runtime.scheduler.run_due():
        pass


def delivery(runtime: Runtime, channel: SmtpChannel, policy: RetryPolicy) -> Delivery:
    return Delivery(runtime.engine, channel, runtime.clock, policy, DeliverySettings(worker_id="test"))


async def rows(runtime: Runtime, table: Any) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table).order_by(table.c.id))).mappings()]


async def test_mail_waits_while_the_server_is_down_and_arrives_once_it_is_back(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url + "?timeout=2")
    policy = RetryPolicy(base_seconds=60, factor=2)
    async with running(database_url, clock, channel=channel) as runtime:
        await queue_orders(runtime, 3)
        worker = delivery(runtime, channel, policy)
        await smtp_server.stop_listening()
        assert await worker.run_due() == 3
        [first] = {m["next_attempt_at"] for m in await rows(runtime, outbox)}
        assert first == T0 + timedelta(seconds=60)
        assert await worker.run_due() == 0, "nothing is retried before its backoff has passed"
        clock.advance(60)
        assert await worker.run_due() == 3
        assert {m["next_attempt_at"] for m in await rows(runtime, outbox)} == {clock.now() + timedelta(seconds=120)}
        await smtp_server.start_listening()
        clock.advance(120)
        assert await worker.run_due() == 3
        assert smtp_server.inbox.count() == 3
        assert {m["status"] for m in await rows(runtime, outbox)} == {"sent"}
        attempts = await rows(runtime, delivery_attempts)
        assert [a["outcome"] for a in attempts if a["outbox_id"] == attempts[0]["outbox_id"]] == [
            "temporary", "temporary", "sent"]
        assert sorted(smtp_server.inbox.message_ids()) == sorted(m["message_id"] for m in await rows(runtime, outbox))


async def test_a_permanent_refusal_is_failed_not_retried(database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url)
    async with running(database_url, clock, channel=channel) as runtime:
        await queue_orders(runtime, 1)
        smtp_server.fail_with = 550
        assert await delivery(runtime, channel, RetryPolicy()).run_due() == 1
        [message] = await rows(runtime, outbox)
        assert message["status"] == "failed" and "550" in message["last_error"]
        [attempt] = await rows(runtime, delivery_attempts)
        assert attempt["outcome"] == "permanent" and attempt["code"] == 550


async def test_attempts_are_listed_by_the_outbox_api(database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url)
    async with running(database_url, clock, channel=channel) as runtime:
        store, key = await add_store(runtime, US_STORE)
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", "Z", T0, locale="en"))])
        await runtime.scheduler.run_due()
        smtp_server.fail_with = 451
        await delivery(runtime, channel, RetryPolicy(base_seconds=5)).run_due()
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            listed = (await client.get("/api/v1/outbox")).json()["messages"]
        assert listed[0]["status"] == "queued" and listed[0]["attempts"] == 1
        assert listed[0]["attempt_log"][0]["outcome"] == "temporary" and listed[0]["attempt_log"][0]["code"] == 451

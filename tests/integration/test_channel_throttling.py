"""A busy provider is a delay, never a loss: LINE answers 429 with Retry-After: 2 for 30 seconds, and
afterwards every message has been delivered, none is marked failed, and the store's configured rate
was never exceeded (the provider's requests counted in every one-second window)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import select

from afterorder.channels import RetryPolicy
from afterorder.channels.setup import set_provider
from afterorder.clock import SystemClock
from afterorder.db.schema import delivery_attempts, outbox
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.sinks.base import throttled_for
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink, rate_limit_answer
from tests.factories import add_store, running
from tests.loopback import loopback
from tests.outbox_rows import queue_line_messages

MESSAGES = 150
RATE = 10.0  # messages per second the store allows itself on LINE
THROTTLED_FOR = 30.0
RETRY_AFTER = 2.0


def busiest_second(times: list[float]) -> int:
    """The most requests in any one-second window."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_a_provider_throttling_for_30_seconds_delays_messages_and_loses_none(database_url: str) -> None:
    sink = LineSink(trouble=throttled_for(THROTTLED_FOR, RETRY_AFTER, rate_limit_answer))
    key = Fernet.generate_key().decode()
    async with running(database_url, SystemClock(), secret_key=key) as runtime, loopback(sink.app()) as line_api:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await set_provider(conn, runtime.sealer, store.id, "line", {
                "channel_access_token": DEV_TOKEN, "channel_secret": "secret", "api_base": line_api},
                runtime.clock.now(), rate=RATE)
        ids = await queue_line_messages(runtime.engine, store, MESSAGES, runtime.clock.now())
        delivery = Delivery(runtime.engine, runtime.registry, runtime.clock, RetryPolicy(),
                            DeliverySettings(worker_id="w", lease=timedelta(seconds=20), concurrency=8))
        async with asyncio.timeout(THROTTLED_FOR + MESSAGES / RATE + 60):
            while len(sink.accepted) < MESSAGES:
                if not await delivery.run_due():
                    await asyncio.sleep(0.2)
        async with runtime.engine.connect() as conn:
            statuses = Counter(r.status for r in await conn.execute(select(outbox.c.status)))
            outcomes = Counter(r.outcome for r in await conn.execute(select(delivery_attempts.c.outcome)))

    assert statuses == {"sent": MESSAGES}, "every message delivered, none failed"
    held = Counter(a.key for a in sink.accepted)
    assert len(held) == MESSAGES and set(held.values()) == {1}, "each message once"
    throttled = sum(1 for r in sink.requests if r.at - sink.requests[0].at < THROTTLED_FOR)
    assert throttled >= 1 and outcomes["temporary"] >= 1, "the provider did throttle"
    assert "failed" not in statuses and outcomes["permanent"] == 0
    assert busiest_second([r.at for r in sink.requests]) <= RATE + 1, "never faster than the store's rate"
    assert len(ids) == MESSAGES

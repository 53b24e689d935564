"""Transactional messages are claimed before any other due message, whichever store queued them
(issue 18: a store's campaign must not hold up another store's order confirmation)."""

from __future__ import annotations

from datetime import timedelta

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.clock import FrozenClock
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from tests.conftest import T0
from tests.factories import US_STORE, add_store, running
from tests.outbox_rows import queue_line_messages

CAMPAIGN = 1200  # marketing messages one store queued earlier: more than two claims' worth


async def test_an_order_confirmation_is_claimed_before_another_stores_earlier_campaign(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url)
    async with running(database_url, clock, channel=channel) as runtime:
        big, _ = await add_store(runtime)
        small, _ = await add_store(runtime, US_STORE)
        campaign = await queue_line_messages(runtime.engine, big, CAMPAIGN, T0 - timedelta(hours=1),
                                             category="marketing")
        [confirmation] = await queue_line_messages(runtime.engine, small, 1, T0, category="transactional")
        worker = Delivery(runtime.engine, channel, clock, RetryPolicy(), DeliverySettings(worker_id="w", batch=500))
        first = await worker.claim()
        assert first[0].message.message_id == confirmation, "the confirmation comes first in the first claim"
        assert len(first) == 500 and {c.message.message_id for c in first[1:]} <= set(campaign)
        assert [c.message.message_id for c in first[1:]] == campaign[:499], "then the campaign, oldest first"

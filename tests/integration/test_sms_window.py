"""SMS providers keep no idempotency key, so the only SMS a crash can send twice are those in flight:
whenever Twilio takes a message, every SMS it took before is already recorded as sent, but for the
few still holding a sending slot (email and LINE may leave a commit's worth unrecorded; SMS may not)."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import func, select
from starlette.responses import Response

from afterorder.channels import RetryPolicy
from afterorder.channels.setup import set_provider
from afterorder.clock import SystemClock
from afterorder.db.schema import outbox
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.sinks.base import SeenRequest
from afterorder.dev.sinks.twilio import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, TwilioSink
from tests.factories import US_STORE, add_store, running
from tests.loopback import loopback
from tests.outbox_rows import queue_sms_messages

MESSAGES = 120
CONCURRENCY = 4


async def test_every_sms_but_those_in_flight_is_recorded_before_the_next_goes(database_url: str) -> None:
    unrecorded_seen: list[int] = []
    async with running(database_url, SystemClock(), secret_key=Fernet.generate_key().decode()) as runtime:
        async def count_unrecorded(_request: SeenRequest) -> Response | None:
            async with runtime.engine.connect() as conn:
                recorded = (await conn.execute(select(func.count()).select_from(outbox)
                                               .where(outbox.c.status == "sent"))).scalar_one()
            unrecorded_seen.append(len(sink.accepted) - recorded)
            return None

        sink = TwilioSink(trouble=count_unrecorded, latency=0.002)
        async with loopback(sink.app()) as twilio_api:
            store, _ = await add_store(runtime, US_STORE)
            async with runtime.engine.begin() as conn:
                await set_provider(conn, runtime.sealer, store.id, "twilio", {
                    "account_sid": DEV_ACCOUNT_SID, "auth_token": DEV_AUTH_TOKEN, "from": "+14155552345",
                    "api_base": twilio_api}, runtime.clock.now(), rate=10_000)
            await queue_sms_messages(runtime.engine, store, MESSAGES, runtime.clock.now())
            delivery = Delivery(runtime.engine, runtime.registry, runtime.clock, RetryPolicy(),
                                DeliverySettings(worker_id="w", lease=timedelta(seconds=30), concurrency=CONCURRENCY))
            while await delivery.run_due():
                pass

    assert len(sink.accepted) == MESSAGES
    assert max(unrecorded_seen) <= CONCURRENCY - 1, (
        f"{max(unrecorded_seen)} SMS were taken but not recorded when another went out")

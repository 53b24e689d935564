"""The registry builds each store's providers from its stored setup: Twilio's status callbacks come back
to afterorder's own webhook for that store unless the store named another URL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cryptography.fernet import Fernet

from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.registry import ChannelRegistry
from afterorder.channels.setup import set_provider
from afterorder.clock import SystemClock
from afterorder.dev.sinks.twilio import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, TwilioSink
from afterorder.keys.sealing import Sealer
from tests.factories import US_STORE, add_store, running
from tests.loopback import loopback


def sms(to: str) -> OutgoingMessage:
    return OutgoingMessage("<sms-1@harbor.example>", "", (to,), json.dumps({"text": "Shipped!", "params": {}}).encode(),
                           ChannelKind.SMS)


async def test_twilio_reports_to_this_stores_webhook_unless_told_otherwise(database_url: str) -> None:
    sealer, sink = Sealer([Fernet.generate_key().decode()]), TwilioSink()
    async with running(database_url, SystemClock()) as runtime, loopback(sink.app()) as twilio_api:
        store, _ = await add_store(runtime, US_STORE)
        options = {"account_sid": DEV_ACCOUNT_SID, "auth_token": DEV_AUTH_TOKEN, "from": "+14155552345",
                   "api_base": twilio_api}
        async with runtime.engine.begin() as conn:
            await set_provider(conn, sealer, store.id, "twilio", options, datetime.now(UTC))
        registry = ChannelRegistry(lambda: sealer, base_url="https://ao.example/")
        async with runtime.engine.connect() as conn:
            route = (await registry.routes(conn, [(store.id, ChannelKind.SMS)]))[(store.id, ChannelKind.SMS)]
        assert route is not None
        first = await route.primary.channel.send(sms("+14155550100"))
        async with runtime.engine.begin() as conn:
            await set_provider(conn, sealer, store.id, "twilio", {**options, "status_callback": "https://crm.example/t"},
                               datetime.now(UTC))
        registry.forget(store.id)
        async with runtime.engine.connect() as conn:
            route = (await registry.routes(conn, [(store.id, ChannelKind.SMS)]))[(store.id, ChannelKind.SMS)]
        assert route is not None
        second = await route.primary.channel.send(sms("+14155550101"))
        await registry.close()

    assert first.outcome is SendOutcome.SENT and second.outcome is SendOutcome.SENT
    assert sink.callbacks[str(first.provider_id)] == "https://ao.example/webhooks/twilio/harbor"
    assert sink.callbacks[str(second.provider_id)] == "https://crm.example/t", "the store's own URL wins"

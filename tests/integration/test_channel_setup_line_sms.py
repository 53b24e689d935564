"""LINE, Twilio and Alibaba Cloud SMS set up for a store (stored, secrets sealed, on SQLite and
PostgreSQL) and used through the channel registry: what is stored reads back and sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cryptography.fernet import Fernet

from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.rate import TokenBucket
from afterorder.channels.registry import ChannelRegistry
from afterorder.channels.setup import load_setups, set_provider
from afterorder.clock import SystemClock
from afterorder.dev.sinks.aliyun_sms import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET, AliyunSmsSink
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink
from afterorder.dev.sinks.twilio import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, TwilioSink
from afterorder.keys.sealing import Sealer
from tests.factories import US_STORE, add_store, running
from tests.loopback import loopback


def outgoing(channel: ChannelKind, to: str, payload: dict[str, object], template: str = "shipping") -> OutgoingMessage:
    return OutgoingMessage("<setup-1@harbor.example>", "", (to,), json.dumps(payload).encode(), channel,
                           template=template)


async def test_stored_line_and_sms_setups_send_through_the_registry(database_url: str) -> None:
    sealer, now = Sealer([Fernet.generate_key().decode()]), datetime.now(UTC)
    line_sink, twilio_sink, aliyun_sink = LineSink(), TwilioSink(), AliyunSmsSink()
    async with running(database_url, SystemClock()) as runtime, loopback(line_sink.app()) as line_url, \
            loopback(twilio_sink.app()) as twilio_url, loopback(aliyun_sink.app()) as aliyun_url:
        store, _ = await add_store(runtime, US_STORE)
        async with runtime.engine.begin() as conn:
            await set_provider(conn, sealer, store.id, "line", {
                "channel_access_token": DEV_TOKEN, "channel_secret": "s", "api_base": line_url}, now)
            await set_provider(conn, sealer, store.id, "twilio", {
                "account_sid": DEV_ACCOUNT_SID, "auth_token": DEV_AUTH_TOKEN, "from": "+14155552345",
                "api_base": twilio_url}, now)
            await set_provider(conn, sealer, store.id, "aliyun_sms", {
                "access_key_id": DEV_ACCESS_KEY_ID, "access_key_secret": DEV_ACCESS_KEY_SECRET,
                "sign_name": "京都茶舗", "templates": {"shipping": "SMS_15305001"}, "api_base": aliyun_url},
                now, role="backup")
            shown = {s.provider: s.shown()["options"] for s in await load_setups(conn, sealer, [store.id])}
        registry = ChannelRegistry(lambda: sealer)
        async with runtime.engine.connect() as conn:
            routes = await registry.routes(conn, [(store.id, ChannelKind.LINE), (store.id, ChannelKind.SMS)])
        line_route, sms_route = routes[(store.id, ChannelKind.LINE)], routes[(store.id, ChannelKind.SMS)]
        assert line_route is not None and sms_route is not None and sms_route.backup is not None
        pushed = await line_route.primary.channel.send(outgoing(
            ChannelKind.LINE, "U" + "1" * 32, {"messages": [{"type": "text", "text": "Your order shipped"}]}))
        texted = await sms_route.primary.channel.send(outgoing(
            ChannelKind.SMS, "+14155550100", {"text": "Your order shipped", "params": {}}))
        templated = await sms_route.backup.channel.send(outgoing(
            ChannelKind.SMS, "+8613800138000", {"text": "您的订单已发货", "params": {"order": 1001}}))
        await registry.close()

    assert [r.outcome for r in (pushed, texted, templated)] == [SendOutcome.SENT] * 3
    assert isinstance(line_route.primary.bucket, TokenBucket) and line_route.primary.bucket.rate == 2_000
    assert twilio_sink.accepted[0].payload == "Your order shipped"
    assert aliyun_sink.accepted[0].payload.params == {"order": "1001"}
    assert shown["twilio"]["from"] == "+14155552345" and shown["twilio"]["auth_token"] == "********"
    assert shown["line"]["channel_access_token"] == "********" and shown["line"]["channel_secret"] == "********"
    assert shown["aliyun_sms"]["templates"] == {"shipping": "SMS_15305001"}
    assert shown["aliyun_sms"]["access_key_secret"] == "********"

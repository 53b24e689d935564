"""A Japanese store with LINE set up and its order [line, email]: a customer with a LINE id gets the
confirmation and the shipping notice on LINE only, a customer without one gets email, and after the
customer unfollows the account (LINE's webhook) the next notice comes by email."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import select

from afterorder.channels.setup import set_provider, update_prefs
from afterorder.clock import FrozenClock
from afterorder.db.schema import outbox
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import add_store, order_event, running
from tests.loopback import loopback

SECRET = "kumo-line-channel-secret"
HANAKO = "U" + "a1" * 16


def with_line(event: dict[str, Any], user: str | None) -> dict[str, Any]:
    event["customer"].update(id="hanako", line_user_id=user)
    return event


async def flow_once(runtime: Runtime, delivery: Delivery) -> None:
    while await runtime.scheduler.run_due():
        pass
    while await delivery.run_due():
        pass


def unfollow(user: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"destination": "Ukumo", "events": [{
        "type": "unfollow", "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user}, "webhookEventId": "01HUNFOLLOW0000000000000000",
        "deliveryContext": {"isRedelivery": False}}]}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"x-line-signature": signature, "content-type": "application/json"}


async def test_line_first_then_email_after_an_unfollow(database_url: str, smtp_server: DevSmtpServer) -> None:
    now = datetime.now(UTC)
    clock = FrozenClock(now)
    sink = LineSink()
    async with running(database_url, clock, smtp_url=smtp_server.url, secret_key=Fernet.generate_key().decode()) \
            as runtime, loopback(sink.app()) as line_api:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await set_provider(conn, runtime.sealer, store.id, "line", {
                "channel_access_token": DEV_TOKEN, "channel_secret": SECRET, "api_base": line_api,
                "basic_id": "@kumo"}, now)
            await update_prefs(conn, store.id, now, order=["line", "email"])
        delivery = Delivery(runtime.engine, runtime.registry, clock, runtime.settings.retry,
                            DeliverySettings(worker_id="w"))
        hanako = with_line(order_event("order.placed", "L1", now, email="hanako@example.jp"), HANAKO)
        taro = order_event("order.placed", "E1", now, email="taro@example.jp")
        await runtime.intake.ingest(store, [Event.model_validate(hanako), Event.model_validate(taro)])
        await flow_once(runtime, delivery)
        clock.advance(3600)
        shipped = with_line(order_event("order.shipped", "L1", clock.now(), email="hanako@example.jp"), HANAKO)
        await runtime.intake.ingest(store, [Event.model_validate(shipped)])
        await flow_once(runtime, delivery)

        pushed = [(a.to, a.payload[0]["altText"]) for a in sink.accepted]
        mailed = [m.recipients for m in smtp_server.inbox.all()]
        assert [to for to, _ in pushed] == [HANAKO, HANAKO], "confirmation and shipping notice on LINE"
        assert "ご注文" in pushed[0][1] and "発送" in pushed[1][1], pushed
        assert mailed == [("taro@example.jp",)], "the customer without LINE gets email; Hanako gets no mail"
        invitation = smtp_server.inbox.all()[0].text or ""
        assert "LINEで通知を受け取る" in invitation and "/line/link/kumo/" in invitation, "invited to link LINE"

        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://afterorder.test") as client:
            body, headers = unfollow(HANAKO)
            answer = await client.post(f"/webhooks/line/{store.slug}", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
        clock.advance(timedelta(days=1).total_seconds())
        again = with_line(order_event("order.placed", "L2", clock.now(), email="hanako@example.jp"), HANAKO)
        await runtime.intake.ingest(store, [Event.model_validate(again)])
        await flow_once(runtime, delivery)
        async with runtime.engine.connect() as conn:
            channels = [(r.channel, r.recipient, r.status) for r in await conn.execute(
                select(outbox.c.channel, outbox.c.recipient, outbox.c.status).order_by(outbox.c.id))]

    assert len(sink.accepted) == 2, "nothing more on LINE after the unfollow"
    assert smtp_server.inbox.all()[0].recipients == ("hanako@example.jp",), "the next notice by email"
    assert "LINEで通知を受け取る" in (smtp_server.inbox.all()[0].text or ""), "with the way back to LINE"
    assert channels[-1] == ("email", "hanako@example.jp", "sent")
    assert [c for c, _, _ in channels].count("line") == 2 and all(s == "sent" for _, _, s in channels)

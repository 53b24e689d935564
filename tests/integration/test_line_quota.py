"""LINE's monthly quota used up (429 "You have reached your monthly limit."): the message goes by email
instead, LINE is paused for the store until the next month in Japan time (the dashboard shows it), the
next messages are written for email straight away, and nothing is marked failed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from cryptography.fernet import Fernet
from sqlalchemy import select

from afterorder.channels.setup import load_prefs, next_line_month, set_provider, update_prefs
from afterorder.clock import FrozenClock
from afterorder.db.schema import outbox
from afterorder.db.stores import get_store_by_id
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.factories import add_store, order_event, running
from tests.loopback import loopback
from tests.outbox_rows import line_user


async def place(runtime: Runtime, store_id: int, orders: range, now: datetime) -> None:
    async with runtime.engine.connect() as conn:
        store = await get_store_by_id(conn, store_id)
    assert store is not None
    events = []
    for n in orders:
        event = order_event("order.placed", f"Q{n}", now, email=f"q{n}@example.jp")
        event["customer"]["line_user_id"] = line_user(n)
        events.append(Event.model_validate(event))
    await runtime.intake.ingest(store, events)


async def test_line_quota_used_up_sends_by_email_until_next_month(database_url: str,
                                                                  smtp_server: DevSmtpServer) -> None:
    now = datetime.now(UTC)
    clock = FrozenClock(now)
    sink = LineSink(monthly_limit=3)
    async with running(database_url, clock, smtp_url=smtp_server.url, secret_key=Fernet.generate_key().decode()) \
            as runtime, loopback(sink.app()) as line_api:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await set_provider(conn, runtime.sealer, store.id, "line", {
                "channel_access_token": DEV_TOKEN, "channel_secret": "s", "api_base": line_api}, now)
            await update_prefs(conn, store.id, now, order=["line", "email"])
        delivery = Delivery(runtime.engine, runtime.registry, clock, runtime.settings.retry,
                            DeliverySettings(worker_id="w", concurrency=1))
        await place(runtime, store.id, range(5), now)
        while await runtime.scheduler.run_due():
            pass
        while await delivery.run_due():
            pass
        async with runtime.engine.connect() as conn:
            prefs = (await load_prefs(conn, [store.id]))[store.id]
        await place(runtime, store.id, range(5, 7), now)  # after the pause: written for email at once
        while await runtime.scheduler.run_due():
            pass
        while await delivery.run_due():
            pass
        async with runtime.engine.connect() as conn:
            rows = (await conn.execute(select(outbox.c.channel, outbox.c.status, outbox.c.recipient,
                                              outbox.c.fallback_to).order_by(outbox.c.id))).all()

    assert len(sink.accepted) == 3, "LINE took what its quota allowed"
    assert Counter(r.status for r in rows) == {"sent": 7}, "nothing failed, nothing waits"
    assert [r.channel for r in rows] == ["line"] * 3 + ["email"] * 4
    assert sorted(m.recipients[0] for m in smtp_server.inbox.all()) == [f"q{n}@example.jp" for n in range(3, 7)]
    assert prefs.line_paused_until == next_line_month(now), "LINE paused until the next month in Japan time"
    assert [r.fallback_to for r in rows[5:]] == [None, None], "written for email: no LINE fallback needed"

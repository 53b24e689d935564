"""A backup provider for a channel (SES, then the store's own SMTP relay): while SES definitely refuses
(503: it did not take the request), messages go through the backup; a message whose SES answer never
came (a 500, a timeout: SES may have taken it) is never failed over — it waits for SES again, so
failover cannot send a message twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from cryptography.fernet import Fernet
from sqlalchemy import select
from starlette.responses import Response

from afterorder.channels.setup import set_provider
from afterorder.clock import FrozenClock
from afterorder.db.schema import outbox
from afterorder.db.stores import StoreRow
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.sinks import ses
from afterorder.dev.sinks.base import SeenRequest, Sink
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running
from tests.loopback import loopback

KEY_ID, SECRET = "AKIDTESTFAILOVER", "failover-secret"


class Answers:
    """SES's trouble, switched by the test: None (accept), or the status to answer with."""

    def __init__(self) -> None:
        self.status: int | None = None

    def __call__(self, _seen: SeenRequest) -> Response | None:
        if self.status is None:
            return None
        return ses.error(self.status, "ServiceUnavailable" if self.status == 503 else "InternalFailure", "trouble")


async def with_ses_then_smtp(runtime: Runtime, store: StoreRow, ses_api: str, smtp_url: str) -> None:
    async with runtime.engine.begin() as conn:
        await set_provider(conn, runtime.sealer, store.id, "ses", {
            "region": "us-east-1", "access_key_id": KEY_ID, "secret_access_key": SECRET, "api_base": ses_api},
            runtime.clock.now(), rate=1000)
        await set_provider(conn, runtime.sealer, store.id, "smtp", {"url": smtp_url}, runtime.clock.now(),
                           role="backup")


async def send_orders(runtime: Runtime, store: StoreRow, prefix: str, n: int, delivery: Delivery) -> None:
    await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", f"{prefix}{i}",
                                                                         runtime.clock.now())) for i in range(n)])
    while await runtime.scheduler.run_due():
        pass
    while await delivery.run_due():
        pass


async def test_only_messages_ses_definitely_refused_go_through_the_backup(database_url: str,
                                                                       smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(datetime.now(UTC))
    answers = Answers()
    sink = Sink(trouble=answers)
    async with running(database_url, clock, secret_key=Fernet.generate_key().decode()) as runtime, \
            loopback(ses.app(sink, access_key_id=KEY_ID, secret_access_key=SECRET)) as ses_api:
        refusing, unsure = (await add_store(runtime, JP_STORE))[0], (await add_store(runtime, US_STORE))[0]
        for store in (refusing, unsure):
            await with_ses_then_smtp(runtime, store, ses_api, smtp_server.url)
        delivery = Delivery(runtime.engine, runtime.registry, clock, runtime.settings.retry,
                            DeliverySettings(worker_id="w", concurrency=2))
        answers.status = 503
        await send_orders(runtime, refusing, "R", 4, delivery)
        answers.status = 500
        await send_orders(runtime, unsure, "U", 3, delivery)
        waiting = await outbox_rows(runtime, unsure)
        answers.status = None
        clock.advance(120)  # the retry's backoff has passed
        while await delivery.run_due():
            pass
        refused_rows, unsure_rows = await outbox_rows(runtime, refusing), await outbox_rows(runtime, unsure)

    assert Counter((r.provider, r.status) for r in refused_rows) == {("smtp", "sent"): 4}, "through the backup"
    assert sorted(m.recipients[0] for m in smtp_server.inbox.all()) == [f"r{i}@example.com" for i in range(4)]
    assert Counter((r.provider, r.status) for r in waiting) == {("ses", "queued"): 3}, "an unknown answer waits"
    assert Counter((r.provider, r.status) for r in unsure_rows) == {("ses", "sent"): 3}, "then SES sends them"
    assert sorted(a.to for a in sink.accepted) == [f"u{i}@example.com" for i in range(3)]


async def outbox_rows(runtime: Runtime, store: StoreRow) -> list[object]:
    async with runtime.engine.connect() as conn:
        return list((await conn.execute(select(outbox.c.provider, outbox.c.status).where(
            outbox.c.store_id == store.id))).all())

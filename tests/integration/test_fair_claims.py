"""Claims take turns between stores (issue 18, item 2): a store with a hundred thousand queued
campaign mails and busy flows cannot hold up another store's order confirmation, and within a
store transactional messages go before marketing ones; the claims stay index scans however many
rows are due (the plans, on both databases)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta

from cryptography.fernet import Fernet
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.channels.setup import set_provider
from afterorder.clock import FrozenClock, SystemClock
from afterorder.db.schema import customers, flow_runs, outbox
from afterorder.db.stores import StoreRow
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.delivery.outbox import OutboxMessage, write_messages
from afterorder.dev.inbox import DevInbox
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.flows.urgency import FIRST
from tests.conftest import T0
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running
from tests.integration.test_channel_throttling import busiest_second
from tests.loopback import loopback
from tests.outbox_rows import queue_line_messages

CAMPAIGN = 100_000  # marketing mails store A queued before store B's order
A_ORDERS = 300  # orders store A takes meanwhile: its flows are busy too


async def queue_mails(engine: AsyncEngine, store: StoreRow, count: int, at: datetime, category: str,
                      tag: str) -> list[str]:
    """``count`` small emails queued for ``store`` at ``at``, written in bulk; their Message-IDs."""
    async with engine.begin() as conn:
        customer = (await conn.execute(insert(customers).values(
            store_id=store.id, external_id=f"{tag}-reader", email=f"{tag}@example.com", created_at=at,
            updated_at=at).returning(customers.c.id))).scalar_one()
        for start in range(0, count, 20_000):
            messages = [OutboxMessage(
                store_id=store.id, idempotency_key=f"{tag}:{n}", message_id=f"<{tag}.{n}@{store.slug}.example>",
                category=category, template="sale", locale="en", envelope_from=store.email_from,
                recipient=f"{tag}@example.com", created_at=at, next_attempt_at=at, customer_id=customer,
                subject="Sale", data=(f"From: {store.email_from}\r\nTo: {tag}@example.com\r\nSubject: Sale\r\n"
                                      f"Message-ID: <{tag}.{n}@{store.slug}.example>\r\n\r\nAll at half price.\r\n"))
                for n in range(start, min(start + 20_000, count))]
            await write_messages(conn, messages)
    return [f"<{tag}.{n}@{store.slug}.example>" for n in range(count)]


def sent_after(inbox: DevInbox, last_id: int) -> list[str]:
    """Message-IDs the mail server took after mail ``last_id``, in the order it took them."""
    return [m.message_id or "" for m in reversed(inbox.all()) if m.id > last_id]


async def test_a_big_campaign_and_busy_flows_do_not_hold_up_another_stores_confirmation(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    async with running(database_url, SystemClock(), smtp_url=smtp_server.url) as runtime:
        big, _ = await add_store(runtime, US_STORE)  # opt-out marketing: its campaign goes out
        small, _ = await add_store(runtime, JP_STORE)
        now = runtime.clock.now()
        await queue_mails(runtime.engine, big, CAMPAIGN, now - timedelta(minutes=5), "marketing", "sale")
        await runtime.intake.ingest(big, [Event.model_validate(order_event("order.placed", f"A{n}", now, locale="en"))
                                          for n in range(A_ORDERS)])
        await runtime.start_workers()
        inbox = smtp_server.inbox
        await inbox.wait_for(1000, timeout=60)  # the campaign is going out
        last = inbox.all()[0].id

        await runtime.intake.ingest(small, [Event.model_validate(order_event("order.placed", "B1", now))])
        accepted = time.monotonic()
        runtime.poke()
        while not any("b1@example.com" in (r.lower() for r in m.recipients) for m in inbox.all()[:2000]):
            assert time.monotonic() - accepted < 30, "store B's confirmation never came"
            await asyncio.sleep(0.005)
        waited = time.monotonic() - accepted
        order = [m for m in reversed(inbox.all()) if m.id > last]
        position = next(n for n, m in enumerate(order) if "b1@example.com" in (r.lower() for r in m.recipients))

        print(f"store B's confirmation: {waited:.3f} s after the order, mail {position + 1} sent after it")
        bound = runtime.delivery.settings.concurrency + runtime.delivery.settings.batch if runtime.delivery else 0
        assert position < bound, f"B's confirmation was mail {position + 1} after the order, not in the first {bound}"
        # how long it took is printed, not asserted: a timed assertion fails on a slow machine, not on a
        # wrong order (the position above is the property; bench/ measures the time)
        assert sum(1 for m in order if "sale@example.com" in m.recipients) > 0, "the campaign was still going"


async def test_a_confirmation_queued_after_another_stores_ten_thousand_is_sent_among_the_first(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url)
    async with running(database_url, clock, channel=channel) as runtime:
        big, _ = await add_store(runtime, US_STORE)
        small, _ = await add_store(runtime, JP_STORE)
        await queue_mails(runtime.engine, big, 10_000, T0 - timedelta(hours=1), "transactional", "bulk")
        [mine] = await queue_mails(runtime.engine, small, 1, T0, "transactional", "order")
        settings = DeliverySettings(worker_id="w", batch=500, concurrency=8, claims_per_run=1)
        await Delivery(runtime.engine, channel, clock, RetryPolicy(), settings).run_due()
        sent = sent_after(smtp_server.inbox, 0)
        assert len(sent) == 500
        assert mine in sent[:settings.concurrency], "its turn came at once, not after the other store's 10,000"


async def test_within_a_store_a_transactional_message_goes_before_ten_thousand_earlier_marketing_ones(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    channel = SmtpChannel.from_url(smtp_server.url)
    async with running(database_url, clock, channel=channel) as runtime:
        store, _ = await add_store(runtime, US_STORE)
        await queue_mails(runtime.engine, store, 10_000, T0 - timedelta(hours=1), "marketing", "sale")
        [confirmation] = await queue_mails(runtime.engine, store, 1, T0, "transactional", "order")
        settings = DeliverySettings(worker_id="w", batch=500, concurrency=8, claims_per_run=1)
        await Delivery(runtime.engine, channel, clock, RetryPolicy(), settings).run_due()
        sent = sent_after(smtp_server.inbox, 0)
        assert len(sent) == 500 and confirmation in sent[:settings.concurrency]


async def test_claims_give_every_store_with_due_messages_its_share_in_turns(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        stores = [(await add_store(runtime, {**US_STORE, "slug": f"s{n}", "email_from": f"s{n}@example.com"}))[0]
                  for n in range(3)]
        queued = [await queue_line_messages(runtime.engine, s, count, T0 - timedelta(minutes=n), category="marketing")
                  for n, (s, count) in enumerate(zip(stores, (1000, 2, 40), strict=True))]
        worker = Delivery(runtime.engine, SmtpChannel.from_url("smtp://127.0.0.1:1"), clock, RetryPolicy(),
                          DeliverySettings(worker_id="w", batch=100))
        got = [c.message.message_id for c in await worker.claim()]
        owner = [next(n for n, q in enumerate(queued) if m in q) for m in got]
        assert len(got) == 100
        assert sorted(owner[:3]) == [0, 1, 2], "every store's oldest first"
        assert set(queued[1]) <= set(got) and set(queued[2]) <= set(got), "the small stores' all came"
        assert owner.count(0) == 58, "the big store filled the rest"


async def test_runs_are_claimed_in_turns_between_stores(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        big, _ = await add_store(runtime, US_STORE)
        small, _ = await add_store(runtime, JP_STORE)
        due = T0 - timedelta(hours=1)
        async with runtime.engine.begin() as conn:  # the big store's order confirmations, all due earlier
            await conn.execute(insert(flow_runs), [
                {"store_id": big.id, "flow_id": "order-confirmation", "flow_version": "1", "subject_key": f"o:{n}",
                 "customer_id": None, "order_id": None, "trigger_event_id": n, "status": "waiting", "step": 0,
                 "anchor_at": due, "wake_at": due, "started_at": due, "updated_at": due, "priority": FIRST}
                for n in range(2000)])
        await runtime.intake.ingest(small, [Event.model_validate(order_event("order.placed", "2002", T0))])
        first = await runtime.scheduler.claim()
        async with runtime.engine.connect() as conn:
            mine = (await conn.execute(text("SELECT id FROM flow_runs WHERE store_id = :s"), {"s": small.id})
                    ).scalar_one()
        assert len(first) == runtime.scheduler.settings.batch
        assert mine in first[:2], "the small store's run has its turn at once"


async def test_the_claims_are_index_scans_with_a_hundred_thousand_due(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        big, _ = await add_store(runtime, US_STORE)
        small, _ = await add_store(runtime, JP_STORE)
        await queue_mails(runtime.engine, big, CAMPAIGN, T0 - timedelta(hours=1), "marketing", "sale")
        await queue_mails(runtime.engine, small, 1, T0, "transactional", "order")
        async with runtime.engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                await conn.execute(text("ANALYZE outbox"))
                await conn.execute(text("ANALYZE stores"))
            else:
                await conn.execute(text("ANALYZE"))
        worker = Delivery(runtime.engine, SmtpChannel.from_url("smtp://127.0.0.1:1"), clock, RetryPolicy(),
                          DeliverySettings(worker_id="w", batch=500))
        started = time.monotonic()
        claimed = await worker.claim()
        took = time.monotonic() - started
        print(f"a claim of 500 among {CAMPAIGN:,} due: {took * 1000:.0f} ms")
        assert claimed[0].message.message_id == f"<order.0@{small.slug}.example>" and len(claimed) == 500
        await queue_mails(runtime.engine, small, 1, T0, "marketing", "news")  # both stores have marketing due
        plans = await explain_claims(runtime.engine, [big.id, small.id], postgres)
        print("\n\n".join(plans))
        for plan in plans:
            assert "ix_outbox_store_due" in plan, plan
            assert "Seq Scan on outbox" not in plan and "SCAN outbox" not in plan.replace("SCAN outbox AS", ""), plan
        assert took < 5.0, f"a claim of 500 among 100,000 due took {took:.2f} s"


async def explain_claims(engine: AsyncEngine, store_ids: list[int], postgres: bool) -> list[str]:
    """The plans of delivery's per-store picks and of its probe for stores with due messages, as the
    driver is given them in a claim."""
    seen: list[tuple[str, object]] = []

    def keep(conn: object, cursor: object, statement: str, parameters: object, context: object,
             executemany: bool) -> None:
        if "LIMIT" in statement and ("LATERAL" in statement or " x" in statement or "EXISTS" in statement):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        worker = Delivery(engine, SmtpChannel.from_url("smtp://127.0.0.1:1"), FrozenClock(T0), RetryPolicy(),
                          DeliverySettings(worker_id="explain", batch=500))
        await worker.claim()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    plans = []
    async with engine.connect() as conn:
        for statement, parameters in seen:
            prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            rows = (await conn.exec_driver_sql(prefix + statement, parameters)).all()  # type: ignore[arg-type]
            plans.append("\n".join(" ".join(str(c) for c in row) for row in rows))
    assert plans, "no per-store pick was seen"
    return plans


THROTTLED = 300  # LINE messages of a store that allows itself RATE a second
RATE = 5.0


async def test_a_store_held_back_by_its_own_rate_does_not_hold_up_another_store(database_url: str) -> None:
    slow_sink, quick_sink = LineSink(), LineSink()
    key = Fernet.generate_key().decode()
    async with (running(database_url, SystemClock(), secret_key=key, delivery_concurrency=8) as runtime,
                loopback(slow_sink.app()) as slow_api, loopback(quick_sink.app()) as quick_api):
        slow, _ = await add_store(runtime, US_STORE)
        quick, _ = await add_store(runtime, JP_STORE)
        async with runtime.engine.begin() as conn:
            for store, api, rate in ((slow, slow_api, RATE), (quick, quick_api, None)):
                await set_provider(conn, runtime.sealer, store.id, "line", {
                    "channel_access_token": DEV_TOKEN, "channel_secret": "secret", "api_base": api},
                    runtime.clock.now(), rate=rate)
        await queue_line_messages(runtime.engine, slow, THROTTLED, runtime.clock.now() - timedelta(minutes=1))
        await runtime.start_workers()
        await slow_sink.wait_for(2, within=30)
        await asyncio.sleep(1.0)  # the slow store's claim is being sent at its rate

        await queue_line_messages(runtime.engine, quick, 1, runtime.clock.now())
        queued = time.monotonic()
        runtime.poke()
        await quick_sink.wait_for(1, within=30)
        waited = time.monotonic() - queued
        # held up behind the throttled store it waited 28 s (before the throttle rule); the bound is far
        # from both that and a slow machine's few seconds
        assert waited < 10.0, f"the other store's message waited {waited:.2f} s behind a throttled store"
        assert busiest_second([r.at for r in slow_sink.requests]) <= RATE + 1, "the slow store kept to its rate"
        async with runtime.engine.connect() as conn:
            statuses = Counter(r.status for r in await conn.execute(
                select(outbox.c.status).where(outbox.c.store_id == slow.id)))
        assert statuses["failed"] == 0 and statuses["queued"] > 0, "the rest waits its turn in the queue"

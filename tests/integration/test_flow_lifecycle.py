"""An order's life through the built-in flows, on a frozen clock: what gets queued, and when."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string
from email.policy import default
from typing import Any

from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.schema import flow_runs, outbox, outbox_bodies
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import add_store, order_event, running


async def send(runtime: Runtime, store: Any, *events: dict[str, Any]) -> None:
    await runtime.intake.ingest(store, [Event.model_validate(e) for e in events])


async def settle(runtime: Runtime) -> None:
    while await runtime.scheduler.run_due():
        pass


async def queued(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(outbox).order_by(outbox.c.id))
        return [dict(r) for r in rows.mappings()]


async def runs(runtime: Runtime) -> dict[str, dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(flow_runs))
        return {r["flow_id"]: dict(r) for r in rows.mappings()}


async def test_confirmation_shipping_and_follow_up_after_delivery(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await send(runtime, store, order_event("order.placed", "A1", T0))
        await settle(runtime)
        [confirmation] = await queued(runtime)
        assert confirmation["template"] == "order-confirmation" and confirmation["locale"] == "ja"
        async with runtime.engine.connect() as conn:
            data = (await conn.execute(select(outbox_bodies.c.data).where(
                outbox_bodies.c.idempotency_key == confirmation["idempotency_key"]))).scalar_one()
        mail = message_from_string(data, policy=default)
        assert "#A1" in str(mail["Subject"]) and mail["Message-ID"] == confirmation["message_id"]
        assert "山田 太郎 様" in mail.get_body(("plain",)).get_content()

        clock.advance(86400)
        await send(runtime, store, order_event("order.shipped", "A1", clock.now()))
        await settle(runtime)
        assert [m["template"] for m in await queued(runtime)] == ["order-confirmation", "shipping-confirmation"]
        follow = (await runs(runtime))["delivery-follow-up"]
        assert follow["status"] == "waiting" and follow["waiting_for"] == "order.delivered"
        assert follow["wake_at"] == clock.now() + timedelta(days=10)

        clock.advance(2 * 86400)
        delivered_at = clock.now()
        await send(runtime, store, order_event("order.delivered", "A1", delivered_at))
        await settle(runtime)
        follow = (await runs(runtime))["delivery-follow-up"]
        assert follow["waiting_for"] is None and follow["wake_at"] == delivered_at + timedelta(days=3)

        clock.advance(3 * 86400 - 60)
        await settle(runtime)
        assert len(await queued(runtime)) == 2, "nothing before three days have passed"
        clock.advance(60)
        await settle(runtime)
        assert [m["template"] for m in await queued(runtime)][-1] == "delivery-follow-up"
        assert (await runs(runtime))["delivery-follow-up"]["status"] == "done"


async def test_refund_before_the_follow_up_means_no_follow_up(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await send(runtime, store, order_event("order.placed", "B1", T0), order_event("order.shipped", "B1", T0))
        await settle(runtime)
        clock.advance(86400)
        await send(runtime, store, order_event("order.delivered", "B1", clock.now()))
        await settle(runtime)
        clock.advance(86400)
        await send(runtime, store, order_event("order.refunded", "B1", clock.now()))
        clock.advance(30 * 86400)
        await settle(runtime)
        assert "delivery-follow-up" not in [m["template"] for m in await queued(runtime)]
        follow = (await runs(runtime))["delivery-follow-up"]
        assert follow["status"] == "exited" and follow["outcome"] == "exit_on order.refunded"


async def test_no_delivery_news_follow_up_comes_ten_plus_three_days_after_shipping(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await send(runtime, store, order_event("order.shipped", "C1", T0, locale="en"))
        await settle(runtime)
        clock.advance(13 * 86400 - 1)
        await settle(runtime)
        assert "delivery-follow-up" not in [m["template"] for m in await queued(runtime)]
        clock.advance(1)
        await settle(runtime)
        last = (await queued(runtime))[-1]
        assert last["template"] == "delivery-follow-up" and last["locale"] == "en"


async def test_a_customer_without_email_is_skipped_with_a_reason(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        event = order_event("order.placed", "D1", T0)
        event["customer"] = {"id": "walk-in", "first_name": "花子"}
        await send(runtime, store, event)
        await settle(runtime)
        [message] = await queued(runtime)
        assert message["status"] == "skipped" and message["last_error"] == "customer has no email address"


async def test_a_run_keeps_the_flow_version_it_started_with(database_url: str, tmp_path: Any) -> None:
    clock = FrozenClock(T0)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "delivery-follow-up.yaml").write_text(
        "id: delivery-follow-up\nenabled_by_default: true\ntrigger: order.shipped\n"
        "steps:\n  - wait: 1d\n  - send: {template: delivery-follow-up, category: transactional}\n")
    async with running(database_url, clock, flow_dirs=(flows,)) as runtime:
        store, _ = await add_store(runtime)
        await send(runtime, store, order_event("order.shipped", "E1", T0))
        await settle(runtime)
    (flows / "delivery-follow-up.yaml").write_text(
        "id: delivery-follow-up\nenabled_by_default: true\ntrigger: order.shipped\n"
        "steps:\n  - wait: 20d\n  - send: {template: delivery-follow-up, category: transactional}\n")
    async with running(database_url, clock, flow_dirs=(flows,)) as runtime:
        clock.advance(86400)
        await settle(runtime)
        assert "delivery-follow-up" in [m["template"] for m in await queued(runtime)]


async def test_one_batch_can_start_and_end_a_run(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await send(runtime, store, order_event("order.placed", "G1", T0), order_event("order.shipped", "G1", T0),
                   order_event("order.refunded", "G1", T0))
        follow = (await runs(runtime))["delivery-follow-up"]
        assert follow["status"] == "exited" and follow["outcome"] == "exit_on order.refunded"


async def test_requests_arriving_together_are_stored_together_and_answered_apart(database_url: str) -> None:
    import asyncio

    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        events = [Event.model_validate(order_event("order.placed", f"H{i % 40}", T0)) for i in range(80)]
        answers = await asyncio.gather(*(runtime.intake.ingest(store, [e]) for e in events))
        statuses = [a[0].status for a in answers]
        assert statuses.count("stored") == 40 and statuses.count("duplicate") == 40
        assert sum(a[0].runs_started for a in answers) == 40
        await settle(runtime)
        assert len(await queued(runtime)) == 40


async def test_one_batch_keeps_each_flows_reentry_per_order_and_per_customer(database_url: str) -> None:
    """A batch about two orders of one customer, each event arriving twice (under new ids): one run
    per order for the order flows, one for the customer for a once-per-customer flow."""
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await runtime.catalog.set_enabled(conn, store, "profile-survey", True, T0)
        customer = {"id": "cust-K", "email": "k@example.com", "locale": "ja"}
        events = [order_event(kind, order, T0, event_id=f"{kind}:{order}:{copy}", customer=customer)
                  for kind in ("order.placed", "order.shipped", "order.delivered")
                  for order in ("K1", "K2") for copy in (1, 2)]
        await send(runtime, store, *events)
        async with runtime.engine.connect() as conn:
            rows = (await conn.execute(select(flow_runs.c.flow_id, flow_runs.c.subject_key))).all()
        started = sorted((r.flow_id, r.subject_key.split(":")[0]) for r in rows)
        per_order = ["delivery-follow-up", "order-confirmation", "shipping-confirmation"]
        assert started == sorted([*((f, "order") for f in per_order for _ in (1, 2)), ("profile-survey", "customer")])
        follow_ups = [r for r in rows if r.flow_id == "delivery-follow-up"]
        assert len({r.subject_key for r in follow_ups}) == 2, "one follow-up per order"

"""A/B tests end to end on a real database and a real SMTP server: each variant goes to its share of
the runs with its own subject or message, results count per variant, the winner is recorded once
the confidence and minimum sample are reached, and from then on every message is the winner."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import Counter
from email.message import EmailMessage
from typing import Any

from sqlalchemy import insert, select

from afterorder.abtests.model import Variant
from afterorder.abtests.records import get_test, start_test, stop_test
from afterorder.abtests.split import choose
from afterorder.analytics.abtests import results_of, settle
from afterorder.clock import FrozenClock
from afterorder.db.schema import ab_tests, engagements, events, outbox, outbox_bodies
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.compliance_helpers import delivery, parts, received
from tests.conftest import T0
from tests.factories import add_store, order_event, running

SUBJECT_B = "【B】{{ customer.last_name }}様、ご注文 {{ order.number }} を承りました"


async def outbox_rows(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(outbox).order_by(outbox.c.id))).mappings()]


async def place(runtime: Runtime, store: Any, ids: range) -> None:
    await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", f"A{i}", T0))
                                        for i in ids])
    while await runtime.scheduler.run_due():
        pass


async def clicks(runtime: Runtime, store_id: int, outbox_ids: list[int]) -> None:
    async with runtime.engine.begin() as conn:
        for n, outbox_id in enumerate(outbox_ids):
            found = await conn.execute(insert(events).values(
                store_id=store_id, source="test", source_id=f"click:{n}", type="message.clicked", occurred_at=T0,
                received_at=T0, payload={}))
            await conn.execute(insert(engagements).values(
                store_id=store_id, outbox_id=outbox_id, kind="click", machine_open=False,
                event_id=found.inserted_primary_key[0], at=T0))  # type: ignore[index]


async def test_a_subject_test_splits_counts_and_sends_the_winner(database_url: str,
                                                                 smtp_server: DevSmtpServer) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            test_id = await start_test(
                conn, store.id, name="subject with the order number", flow_id="order-confirmation", step=0,
                template="order-confirmation", variants=(Variant("A", 50), Variant("B", 50, {"ja": SUBJECT_B})),
                metric="click", confidence=0.95, min_sample=10, user="owner", now=T0)
            test = await get_test(conn, store.id, test_id)
        assert test is not None
        await place(runtime, store, range(60))
        rows = await outbox_rows(runtime)
        assert len(rows) == 60 and {r["ab_test_id"] for r in rows} == {test_id}
        assert [r["variant"] for r in rows] == [choose(test, r["run_id"]) for r in rows]
        shares = Counter(r["variant"] for r in rows)
        assert shares["A"] >= 15 and shares["B"] >= 15, shares

        assert await delivery(runtime, smtp_server).run_due() == 60
        by_subject = Counter("B" if str(m["Subject"]).startswith("【B】") else "A" for m in received(smtp_server))
        assert by_subject == shares
        mail_b = next(m for m in received(smtp_server) if str(m["Subject"]).startswith("【B】"))
        number = str(mail_b["Subject"]).split("ご注文 ")[1].split(" ")[0]
        assert str(mail_b["Subject"]) == f"【B】山田様、ご注文 {number} を承りました"
        assert number in parts(mail_b)[1]  # the body is the same message, about the same order

        a_ids = [r["id"] for r in rows if r["variant"] == "A"]
        b_ids = [r["id"] for r in rows if r["variant"] == "B"]
        await clicks(runtime, store.id, a_ids[:2] + b_ids[:12])
        async with runtime.engine.connect() as conn:
            results = await results_of(conn, test, T0)
        a, b = results.variants
        assert (a.metrics.delivered, a.successes, b.metrics.delivered, b.successes) == (
            shares["A"], 2, shares["B"], 12)
        assert b.against_a is not None and b.against_a.p_value < 0.05
        assert results.verdict.winner == "B"  # not recorded yet: the workers settle it

        assert await settle(runtime.engine, T0) == [(test_id, "B")]
        assert await settle(runtime.engine, T0) == []  # once
        await place(runtime, store, range(60, 80))
        later = (await outbox_rows(runtime))[60:]
        assert len(later) == 20 and {r["variant"] for r in later} == {"B"}
        assert all(r["subject"].startswith("【B】") for r in later)

        async with runtime.engine.begin() as conn:
            assert await stop_test(conn, store.id, test_id, T0)
        await place(runtime, store, range(80, 90))
        stopped = (await outbox_rows(runtime))[80:]
        assert {r["ab_test_id"] for r in stopped} == {None}
        assert not any(r["subject"].startswith("【B】") for r in stopped)


async def test_a_message_test_sends_the_variant_copy_and_no_winner_below_the_sample(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        base = runtime.renderer
        sources = {loc: base.source("order-confirmation", loc) for loc in base.locales_for("order-confirmation")}
        sources["ja"] = sources["ja"].replace("{% block html %}", "{% block html %}<p>B版の特別なご案内</p>", 1)
        async with runtime.engine.begin() as conn:
            test_id = await start_test(
                conn, store.id, name="copy", flow_id="order-confirmation", step=0, template="order-confirmation",
                variants=(Variant("A", 80), Variant("B", 20, source=sources)), metric="open", confidence=0.99,
                min_sample=500, user="owner", now=T0)
            test = await get_test(conn, store.id, test_id)
        assert test is not None
        await place(runtime, store, range(40))
        rows = await outbox_rows(runtime)
        async with runtime.engine.connect() as conn:
            data = {r.idempotency_key: r.data for r in await conn.execute(select(outbox_bodies))}
        for row in rows:
            mail = email.message_from_string(data[row["idempotency_key"]], _class=EmailMessage,
                                             policy=email.policy.default)
            assert ("B版の特別なご案内" in parts(mail)[1]) == (row["variant"] == "B"), row["variant"]
        assert 0 < Counter(r["variant"] for r in rows)["B"] < 20  # 20 % of 40, give or take: both variants went out
        assert await settle(runtime.engine, T0) == []  # nothing sent yet, far below 500 per variant
        async with runtime.engine.connect() as conn:
            verdict = (await results_of(conn, test, T0)).verdict
        assert verdict.winner is None and "minimum sample" in verdict.reason
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(ab_tests.c.status))).scalar_one() == "running"


async def test_the_workers_record_the_winner_on_their_own(sqlite_url: str, smtp_server: DevSmtpServer) -> None:
    async with running(sqlite_url, FrozenClock(T0), smtp_url=smtp_server.url, ab_check_seconds=0.05) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            test_id = await start_test(
                conn, store.id, name="s", flow_id="order-confirmation", step=0, template="order-confirmation",
                variants=(Variant("A", 50), Variant("B", 50, {"ja": SUBJECT_B})), metric="click", confidence=0.95,
                min_sample=10, user="owner", now=T0)
        await place(runtime, store, range(40))
        await runtime.start_workers()
        for _ in range(200):  # delivery sends them; nobody has clicked yet, so no winner
            if Counter(r["status"] for r in await outbox_rows(runtime)) == {"sent": 40}:
                break
            await asyncio.sleep(0.05)
        rows = await outbox_rows(runtime)
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(ab_tests.c.status))).scalar_one() == "running"
        await clicks(runtime, store.id, [r["id"] for r in rows if r["variant"] == "A"][:15])
        for _ in range(100):
            async with runtime.engine.connect() as conn:
                found = (await conn.execute(select(ab_tests.c.status, ab_tests.c.winner)
                                            .where(ab_tests.c.id == test_id))).one()
            if found.status == "decided":
                break
            await asyncio.sleep(0.05)
        assert (found.status, found.winner) == ("decided", "A")

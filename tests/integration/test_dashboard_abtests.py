"""The A/B tests page over HTTP: starting a test from a send step (bad variants refused with the field
named, nothing stored), roles, and the results table against a hand-computed data set:

    variant A: 20 sent, 2 clicked                 → delivered 20, click rate 2/20 = 10.00 %
    variant B: 20 sent, 1 bounced, 9 clicked      → delivered 19, click rate 9/19 = 47.37 %
    B − A = +37.37 points; pooled p = 11/39 = 0.28205, se = √(0.28205 · 0.71795 · (1/20 + 1/19)) = 0.14416,
    z = 0.37368 / 0.14416 = 2.592, two-sided p = 0.0095 — significant at 95 %, but the test asks for
    100 delivered per variant, so no winner yet: A needs 80 more, B 81.
"""

from __future__ import annotations

import re

from sqlalchemy import func, insert, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import ab_tests, engagements, events, outbox
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import running
from tests.integration.test_dashboard import client, log_in, text_of, token, users

VALID = {"step": "order-confirmation:0", "name": "order number in the subject", "split": "50", "metric": "click",
         "confidence": "0.95", "min_sample": "100", "subject_ja": "【B】ご注文 {{ order.number }}"}


async def count_tests(runtime: Runtime) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ab_tests))).scalar_one())


async def fixed_results(runtime: Runtime, store_id: int, test_id: int) -> None:
    async with runtime.engine.begin() as conn:
        ids: dict[str, list[int]] = {"A": [], "B": []}
        for n in range(40):
            variant = "A" if n < 20 else "B"
            key = f"test:{n}"
            found = await conn.execute(insert(outbox).values(
                store_id=store_id, run_id=None, idempotency_key=key, message_id=f"<{key}@kumo.example>",
                channel="email", category="transactional", template="order-confirmation", locale="ja",
                customer_id=None, order_id=None, envelope_from="shop@kumo.example", recipient="x@example.com",
                subject="件名", status="sent", attempts=1, next_attempt_at=T0, created_at=T0, sent_at=T0,
                ab_test_id=test_id, variant=variant))
            ids[variant].append(int(found.inserted_primary_key[0]))  # type: ignore[index]
        clicked = ids["A"][:2] + ids["B"][:9] + ids["A"][:1]  # one of A's clicks twice: still one message
        for n, outbox_id in enumerate(clicked):
            ev = await conn.execute(insert(events).values(
                store_id=store_id, source="test", source_id=f"c{n}", type="message.clicked", occurred_at=T0,
                received_at=T0, payload={}))
            await conn.execute(insert(engagements).values(
                store_id=store_id, outbox_id=outbox_id, kind="click", machine_open=False,
                event_id=ev.inserted_primary_key[0], at=T0))  # type: ignore[index]
        await conn.execute(insert(events).values(
            store_id=store_id, source="test", source_id="bounce", type="message.bounced", occurred_at=T0,
            received_at=T0, payload={"message": {"outbox_id": ids["B"][-1]}}))


async def test_an_owner_starts_a_test_and_reads_the_hand_computed_results(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        kumo, _ = await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "owner")
            form = await http.get("/dashboard/kumo/tests/new", params={"step": "order-confirmation:0"})
            assert form.status_code == 200 and 'name="subject_ja"' in form.text and 'name="source_en"' in form.text
            csrf = token(form.text)
            for bad, field in (({"subject_ja": "{{ customer.__class__.__mro__ }}"}, "subject_ja"),
                               ({"subject_ja": "{{ order.nonexistent_field }}"}, "subject_ja"),
                               ({"split": "100"}, "split"), ({"min_sample": "3"}, "min_sample"),
                               ({"subject_ja": ""}, "change the subject or the message"),
                               ({"source_ja": "<p>no subject block</p>"}, "source_ja")):
                answer = await http.post("/dashboard/kumo/tests", data={"csrf": csrf, **VALID, **bad})
                assert answer.status_code == 400, bad
                assert field in answer.text, (bad, answer.text[:500])
            assert (await http.post("/dashboard/kumo/tests", data={**VALID, "csrf": csrf,
                                                                   "step": "order-confirmation:9"})).status_code == 404
            assert await count_tests(runtime) == 0

            assert (await http.post("/dashboard/kumo/tests", data={"csrf": csrf, **VALID})).status_code == 303
            again = await http.post("/dashboard/kumo/tests", data={"csrf": csrf, **VALID})
            assert again.status_code == 400 and "already has a test" in again.text
            async with runtime.engine.connect() as conn:
                test_id = (await conn.execute(select(ab_tests.c.id))).scalar_one()
            await fixed_results(runtime, kumo.id, test_id)

            page = (await http.get("/dashboard/kumo/tests")).text
            assert "order number in the subject" in page and 'class="pill status">running<' in page
            a_row, b_row = 'data-variant="A"', 'data-variant="B"'
            assert text_of(page, "delivered", a_row) == "20" and text_of(page, "delivered", b_row) == "19"
            assert text_of(page, "rate", a_row) == "10.00%" and text_of(page, "rate", b_row) == "47.37%"
            assert "+37.37 pts" in page
            assert text_of(page, "p-value", b_row) == "0.0095"
            verdict = re.search(r'class="verdict">([^<]*)<', page)
            assert verdict and "still needed: A 80, B 81" in verdict.group(1)

            flows = (await http.get("/dashboard/kumo/flows")).text
            assert "/dashboard/kumo/tests/new?step=order-confirmation:0" in flows

            assert (await http.post(f"/dashboard/kumo/tests/{test_id}/stop", data={"csrf": csrf})).status_code == 303
            assert 'class="pill status">stopped<' in (await http.get("/dashboard/kumo/tests")).text


async def test_a_viewer_reads_results_but_cannot_start_or_stop_a_test(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "owner")
            csrf = token((await http.get("/dashboard/kumo/tests")).text)
            assert (await http.post("/dashboard/kumo/tests", data={"csrf": csrf, **VALID})).status_code == 303
        async with client(runtime) as http:
            await log_in(http, "viewer")
            page = await http.get("/dashboard/kumo/tests")
            assert page.status_code == 200 and "order number in the subject" in page.text
            assert 'class="stop"' not in page.text and 'id="pick-step"' not in page.text
            assert (await http.get("/dashboard/kumo/tests/new",
                                   params={"step": "order-confirmation:0"})).status_code == 403
            csrf = token(page.text)
            assert (await http.post("/dashboard/kumo/tests/1/stop", data={"csrf": csrf})).status_code == 403
            assert (await http.post("/dashboard/kumo/tests", data={"csrf": csrf, **VALID,
                                                                   "step": "shipping-update:0"})).status_code == 403
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(ab_tests.c.status))).scalars().all() == ["running"]

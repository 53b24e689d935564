"""The delivery note on the order page over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL:
saved once however often it is sent, shown on the page, in the API and on the dashboard's customer
page, changed by a new note; refused with a status naming why (a form from elsewhere, a bad field, an
order already on its way) with nothing stored; and sent on to the store's own receiver (a real HTTP
server on loopback), signed, with the same key and bytes on every attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.outgoing_webhooks import claim_due
from afterorder.db.schema import events, outgoing_webhooks
from afterorder.db.store_settings import set_delivery_note_webhook
from afterorder.db.stores import StoreRow
from afterorder.order_page.note_webhook import webhook_key
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.compliance_helpers import ingest
from tests.factories import add_store, order_event, running
from tests.integration.test_unsubscribe_http import serving
from tests.loopback import loopback
from tests.webhook_receiver import receiving

NONCE = re.compile(r'name="nonce" value="([0-9a-f]+)"')
NOTE = {"choice": "box", "window": "19-21", "text": "宅配ボックスは 3 番です"}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


async def _page_path(http: httpx.AsyncClient, key: str, order_id: str) -> str:
    answer = await http.get(f"/api/v1/orders/{order_id}/order-page", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    return str(httpx.URL(answer.json()["url"]).path)


async def _form(http: httpx.AsyncClient, path: str) -> str:
    page = await http.get(path)
    assert page.status_code == 200
    found = NONCE.search(page.text)
    assert found is not None, "the page has the note's form"
    return found.group(1)


async def _notes(runtime: Runtime, store: StoreRow) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(events).where(
            events.c.store_id == store.id, events.c.type == "order.delivery_note"))).scalar_one())


async def _post(http: httpx.AsyncClient, base: str, path: str, fields: dict[str, str], **headers: str
                ) -> httpx.Response:
    return await http.post(f"{path}/note", data=fields, headers={"Origin": base, **headers})


async def test_a_note_is_saved_once_shown_and_sent_to_the_store_signed(database_url: str) -> None:
    clock = FrozenClock(_now())
    async with running(database_url, clock) as runtime, receiving() as receiver:
        store, key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await set_delivery_note_webhook(conn, store.id, f"{receiver.url}/hooks/notes", clock.now())
        await ingest(runtime, store, order_event("order.placed", "N1", clock.now()))
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            path = await _page_path(http, key, "N1")
            nonce = await _form(http, path)
            for _ in range(2):  # the customer presses "save" twice
                answer = await _post(http, base, path, {**NOTE, "nonce": nonce})
                assert answer.status_code == 303 and answer.headers["location"].endswith("?note=saved#note")
            assert await _notes(runtime, store) == 1
            shown = (await http.get(f"{path}?note=saved")).text
            assert "ご要望を保存しました。" in shown and "宅配ボックスに入れる" in shown and "19時〜21時" in shown
            assert "宅配ボックスは 3 番です" in shown
            assert 'value="box" required checked' in shown  # the form starts from the saved note

            auth = {"Authorization": f"Bearer {key}"}
            state = (await http.get("/api/v1/orders/N1/delivery-note", headers=auth)).json()
            assert state["delivery_note"] == NOTE and state["editable"] is True and len(state["history"]) == 1

            clock.advance(60)
            changed = {**NOTE, "choice": "door", "text": ""}
            answer = await _post(http, base, path, {**changed, "nonce": nonce}, Accept="application/json")
            assert answer.status_code == 200 and answer.json()["saved"] is True
            state = (await http.get("/api/v1/orders/N1/delivery-note", headers=auth)).json()
            assert state["delivery_note"] == {**changed, "window": "19-21"}
            assert [h["revision"] for h in state["history"]] == [2, 1]
            assert "玄関前に置き配" in (await http.get(path)).text

            while await runtime.webhooks.run_due():
                pass
        assert [r.path for r in receiver.requests] == ["/hooks/notes", "/hooks/notes"]
        signing = webhook_key(runtime.signers.of(store))
        for request, revision, choice in zip(receiver.requests, (1, 2), ("box", "door"), strict=True):
            expected = "sha256=" + hmac.new(signing.encode(), request.body, hashlib.sha256).hexdigest()
            assert request.headers["x-afterorder-signature"] == expected
            body = json.loads(request.body)
            assert body["type"] == "order.delivery_note" and body["order"] == {"id": "N1", "number": "#N1"}
            assert body["revision"] == revision and body["delivery_note"]["choice"] == choice
            assert request.headers["idempotency-key"] == body["id"]


async def test_refusals_name_why_and_store_nothing(database_url: str) -> None:
    clock = FrozenClock(_now())
    async with running(database_url, clock) as runtime:
        store, key = await add_store(runtime)
        await ingest(runtime, store, order_event("order.placed", "N2", clock.now()))
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            path = await _page_path(http, key, "N2")
            nonce = await _form(http, path)
            json_please = {"Accept": "application/json"}

            missing = await _post(http, base, path, NOTE, **json_please)  # a form made elsewhere has no nonce
            assert missing.status_code == 403 and missing.json()["details"][0]["field"] == "nonce"
            foreign = await _post(http, base, path, {**NOTE, "nonce": nonce}, Origin="https://evil.example")
            assert foreign.status_code == 403 and "ご注文ページを開き直して" in foreign.text
            cross = await _post(http, base, path, {**NOTE, "nonce": nonce}, **{"Sec-Fetch-Site": "cross-site"})
            assert cross.status_code == 403

            for fields, field in (({**NOTE, "choice": "roof"}, "choice"), ({**NOTE, "window": "3-5"}, "window"),
                                  ({**NOTE, "text": "あ" * 201}, "text"), ({**NOTE, "text": "a\x00b"}, "text")):
                bad = await _post(http, base, path, {**fields, "nonce": nonce}, **json_please)
                assert bad.status_code == 400 and bad.json()["details"][0]["field"] == field, bad.text
            page = await _post(http, base, path, {**NOTE, "choice": "", "nonce": nonce})
            assert page.status_code == 400 and "お受け取り方法をお選びください。" in page.text

            body, mac = path.rsplit(".", 1)
            tampered = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
            gone = await _post(http, base, tampered, {**NOTE, "nonce": nonce})
            assert gone.status_code == 404 and "宅配ボックス" not in gone.text and "#N2" not in gone.text
            assert await _notes(runtime, store) == 0

            # shipped, and the expected day comes: out for delivery, the form is gone and a post is refused
            clock.advance(3600)
            await ingest(runtime, store, order_event("order.shipped", "N2", clock.now()))
            assert NONCE.search((await http.get(path)).text) is not None  # still two days before
            clock.advance(2 * 86400)
            page_now = (await http.get(path)).text
            assert NONCE.search(page_now) is None and "配達中のため、ご要望は変更できません。" in page_now
            status = (await http.get(f"{path}.json")).json()
            assert status["note_closed"] == "配達中のため、ご要望は変更できません。"
            late = await _post(http, base, path, {**NOTE, "nonce": nonce}, **json_please)
            assert late.status_code == 409 and late.json()["error"] == "note_closed"
            assert "out for delivery" in late.json()["message"]
            await ingest(runtime, store, order_event("order.delivered", "N2", clock.now()))
            late = await _post(http, base, path, {**NOTE, "nonce": nonce})
            assert late.status_code == 409 and "このご注文はお届け済みです。" in late.text
            state = (await http.get("/api/v1/orders/N2/delivery-note",
                                    headers={"Authorization": f"Bearer {key}"})).json()
            assert state["editable"] is False and state["closed_because"] == "delivered"
            assert state["delivery_note"] is None
            unknown = await http.get("/api/v1/orders/NOPE/delivery-note", headers={"Authorization": f"Bearer {key}"})
            assert unknown.status_code == 404 and unknown.json()["details"][0]["field"] == "order_id"
        assert await _notes(runtime, store) == 0


async def test_the_webhook_is_retried_with_the_same_key_and_bytes_and_survives_a_lost_worker(
        sqlite_url: str) -> None:
    clock = FrozenClock(_now())
    async with running(sqlite_url, clock) as runtime, receiving() as receiver:
        store, key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await set_delivery_note_webhook(conn, store.id, f"{receiver.url}/in", clock.now())
        await ingest(runtime, store, order_event("order.placed", "N3", clock.now()))
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            path = await _page_path(http, key, "N3")
            nonce = await _form(http, path)
            assert (await _post(http, base, path, {**NOTE, "nonce": nonce})).status_code == 303

        # a worker claims the webhook and dies before posting it: it comes back when the lease ends
        assert len(await claim_due(runtime.engine, clock.now(), runtime.webhooks.lease)) == 1
        assert await runtime.webhooks.run_due() == 0
        clock.advance(runtime.webhooks.lease.total_seconds() + 1)

        receiver.answers = [503, 429, 200]
        assert await runtime.webhooks.run_due() == 1  # 503: retried after 10 s
        assert await _row(runtime) == ("pending", 1, 503)
        clock.advance(10)
        assert await runtime.webhooks.run_due() == 1  # 429 with Retry-After: 7 — a delay, not a failure
        assert await _row(runtime) == ("pending", 1, 429)
        clock.advance(6)
        assert await runtime.webhooks.run_due() == 0
        clock.advance(1)
        assert await runtime.webhooks.run_due() == 1
        assert await _row(runtime) == ("sent", 2, 200)
        assert len(receiver.requests) == 3
        assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1
        assert len({r.body for r in receiver.requests}) == 1
        clock.advance(3600)
        assert await runtime.webhooks.run_due() == 0 and len(receiver.requests) == 3

        # a receiver that refuses (4xx) is not asked again
        async with runtime.engine.begin() as conn:
            await set_delivery_note_webhook(conn, store.id, f"{receiver.url}/gone", clock.now())
        receiver.answers = [410]
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            answer = await _post(http, base, path, {**NOTE, "text": "changed", "nonce": nonce})
            assert answer.status_code == 303
        await runtime.webhooks.run_due()
        clock.advance(86400)
        await runtime.webhooks.run_due()
        assert [r.path for r in receiver.requests].count("/gone") == 1


async def _row(runtime: Runtime) -> tuple[str, int, int | None]:
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(select(outgoing_webhooks.c.status, outgoing_webhooks.c.attempts,
                                         outgoing_webhooks.c.last_code).order_by(outgoing_webhooks.c.id))).first()
    assert row is not None
    return str(row.status), int(row.attempts), row.last_code


async def test_a_note_the_store_sends_itself_is_shown_but_not_posted_back(sqlite_url: str) -> None:
    clock = FrozenClock(_now())
    async with running(sqlite_url, clock) as runtime, receiving() as receiver:
        store, key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await set_delivery_note_webhook(conn, store.id, f"{receiver.url}/in", clock.now())
        await ingest(runtime, store, order_event("order.placed", "N4", clock.now()))
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            auth = {"Authorization": f"Bearer {key}"}
            sent = await http.post("/api/v1/events", headers=auth, json={
                "id": "phone-call-1", "type": "order.delivery_note", "occurred_at": clock.now().isoformat(),
                "order": {"id": "N4"}, "properties": {"choice": "hand", "window": "am", "text": "電話で受付"}})
            assert sent.status_code in (200, 202), sent.text
            state = (await http.get("/api/v1/orders/N4/delivery-note", headers=auth)).json()
            assert state["delivery_note"] == {"choice": "hand", "window": "am", "text": "電話で受付"}
            path = await _page_path(http, key, "N4")
            assert "電話で受付" in (await http.get(path)).text
        assert await runtime.webhooks.run_due() == 0 and receiver.requests == []


async def test_note_posts_are_rate_limited_apart_from_the_page(sqlite_url: str) -> None:
    clock = FrozenClock(_now())
    async with running(sqlite_url, clock) as runtime:
        store, key = await add_store(runtime)
        await ingest(runtime, store, order_event("order.placed", "N5", clock.now()))
        # the buckets' clock stands still: no token comes back however slow the machine is
        app = create_app(runtime, limit_clock=lambda: 0.0)
        async with loopback(app) as base, httpx.AsyncClient(base_url=base) as http:
            path = await _page_path(http, key, "N5")
            nonce = await _form(http, path)
            answers = [(await _post(http, base, path, {**NOTE, "text": str(n), "nonce": nonce})).status_code
                       for n in range(21)]
            assert answers[:20] == [303] * 20 and answers[20] == 429  # the public class's burst of 20
            assert (await http.get(f"{path}.json")).status_code == 200  # the page's own polls still answered
        assert await _notes(runtime, store) == 20

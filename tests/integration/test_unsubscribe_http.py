"""The unsubscribe endpoint as RFC 8058 says, over real HTTP on loopback (the app served by
uvicorn), and the preference centre and double opt-in pages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.compliance import tokens
from afterorder.db.schema import consent_changes, consents, customers, events
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.compliance_helpers import category, configure, delivery, ingest, marketing_flows, outbox_rows, received
from tests.conftest import T0
from tests.factories import add_store, order_event, running


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[str]:
    """The app on a free loopback port, served by uvicorn; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def marketing_mail_link(runtime: Runtime, smtp_server: DevSmtpServer, order_id: str = "U1",
                              locale: str = "ja") -> str:
    """Queue and send a marketing mail; returns the path of its List-Unsubscribe https link."""
    store = (await stores(runtime))[0]
    event = order_event("order.placed", order_id, runtime.clock.now(), locale=locale)
    event["customer"]["accepts_marketing"] = True
    await ingest(runtime, store, event)
    await delivery(runtime, smtp_server).run_due()
    mail = [m for m in received(smtp_server) if category(m) == "marketing"][-1]
    link = re.match(r"<https?://[^/]+(/u/[^>]+)>", str(mail["List-Unsubscribe"]))
    assert link is not None
    return link.group(1)


async def stores(runtime: Runtime) -> list[Any]:
    from afterorder.db.stores import list_stores

    async with runtime.engine.connect() as conn:
        return await list_stores(conn)


async def state(runtime: Runtime) -> tuple[list[str], int, int]:
    """(consent statuses, consent changes recorded, message.unsubscribed events)"""
    async with runtime.engine.connect() as conn:
        statuses = [r.status for r in await conn.execute(select(consents.c.status).order_by(consents.c.customer_id))]
        changes = len((await conn.execute(select(consent_changes.c.id))).all())
        unsubscribed = len((await conn.execute(select(events.c.id).where(
            events.c.type == "message.unsubscribed"))).all())
    return statuses, changes, unsubscribed


ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def test_one_click_post_unsubscribes_at_once_without_login_cookie_or_redirect(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(sqlite_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        await add_store(runtime)
        path = await marketing_mail_link(runtime, smtp_server)
        assert await state(runtime) == (["granted"], 1, 0)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base, follow_redirects=False) as http:
            page = await http.get(path)
            assert page.status_code == 200 and "配信を停止する" in page.text
            assert '<form method="post"' in page.text
            assert await state(runtime) == (["granted"], 1, 0), "a GET never unsubscribes"

            answer = await http.post(path, content=b"List-Unsubscribe=One-Click",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert answer.status_code == 200, answer.text
            assert "set-cookie" not in answer.headers and "location" not in answer.headers
            assert "配信停止の手続きが完了しました" in answer.text
            assert await state(runtime) == (["withdrawn"], 2, 1)

            again = await http.post(path, data=ONE_CLICK)
            assert again.status_code == 200
            assert await state(runtime) == (["withdrawn"], 2, 1), "twice is once"

        async with runtime.engine.connect() as conn:
            change = (await conn.execute(
                select(consent_changes).order_by(consent_changes.c.id.desc()))).mappings().first()
            event = (await conn.execute(select(events).where(events.c.type == "message.unsubscribed"))).mappings().one()
        assert change["method"] == "one_click" and change["source_ip"] == "127.0.0.1"
        assert change["outbox_id"] is not None
        assert event["payload"]["message"]["outbox_id"] == change["outbox_id"]
        assert event["payload"]["message"]["flow_id"] == "thank-you-offer"

        # the next marketing message for them is not sent (their store still says accepts_marketing:
        # true on the next order: a stale flag subscribes no one again); their order mail is
        before = len(await outbox_rows(runtime))
        event_ = order_event("order.placed", "U2", T0, locale="ja")
        event_["customer"].update(id="cust-U1", email="u1@example.com", accepts_marketing=True)
        await ingest(runtime, (await stores(runtime))[0], event_)
        await delivery(runtime, smtp_server).run_due()
        new = (await outbox_rows(runtime))[before:]
        assert {(r["category"], r["status"], r["last_error"]) for r in new} == {
            ("transactional", "sent", None), ("marketing", "skipped", "no marketing consent")}


async def test_multipart_one_click_is_accepted_too(sqlite_url: str, smtp_server: DevSmtpServer,
                                                   tmp_path: Path) -> None:
    async with running(sqlite_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        await add_store(runtime)
        path = await marketing_mail_link(runtime, smtp_server)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(path, files={"List-Unsubscribe": (None, "One-Click")})
        assert answer.status_code == 200
        assert (await state(runtime))[0] == ["withdrawn"]


async def test_tampered_tokens_and_wrong_bodies_get_400_and_change_nothing(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(sqlite_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        store, _ = await add_store(runtime)
        path = await marketing_mail_link(runtime, smtp_server)
        token = path.rsplit("/", 1)[1]
        body, mac = token.split(".")
        flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
        other_purpose = tokens.preferences_token(runtime.signers.of(store), 1)
        bad_paths = [f"/u/kumo/{flipped}.{mac}", f"/u/kumo/{body}.{mac[:-2]}", f"/u/kumo/{body}",
                     f"/u/kumo/{other_purpose}", f"/u/other-store/{token}", "/u/kumo/%00"]
        before = await state(runtime)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            for bad in bad_paths:
                for answer in (await http.post(bad, data=ONE_CLICK), await http.get(bad)):
                    assert answer.status_code == 400, (bad, answer.status_code)
                    assert "このリンクは無効です" in answer.text or "not valid" in answer.text
            for wrong in ({"List-Unsubscribe": "one-click"}, {}, {"unsubscribe": "yes"}):
                answer = await http.post(path, data=wrong)
                assert answer.status_code == 400 and "List-Unsubscribe=One-Click" in answer.text
        assert await state(runtime) == before


async def test_preference_centre_saves_channels_and_topics_with_a_signed_form(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(sqlite_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        store, _ = await add_store(runtime)
        await marketing_mail_link(runtime, smtp_server)
        mail = [m for m in received(smtp_server) if category(m) == "marketing"][-1]
        html = mail.get_body(("html",)).get_content()
        path = re.search(r'href="https?://[^/"]+(/preferences/[^"]+)"', html).group(1)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            page = await http.get(path)
            assert page.status_code == 200 and "配信設定" in page.text and "キャンペーン・クーポン" in page.text
            form = re.search(r'name="form" value="([^"]+)"', page.text).group(1)
            assert 'value="email" checked' in page.text

            saved = await http.post(path, data={"form": form, "channel": ["email"], "topic": ["new-products"]})
            assert saved.status_code == 200 and "保存しました" in saved.text
            assert 'value="offers" checked' not in saved.text and 'value="new-products" checked' in saved.text

            forged = await http.post(path, data={"form": form[:-3] + "AAA", "channel": []})
            assert forged.status_code == 400
            other = tokens.form_token(runtime.signers.of(store), 999, int(T0.timestamp()))
            assert (await http.post(path, data={"form": other, "channel": []})).status_code == 400
            customer_id = tokens.read_preferences(runtime.signers.of(store), path.rsplit("/", 1)[1])
            stale = tokens.form_token(runtime.signers.of(store), customer_id, int(T0.timestamp()) - 2 * 86400)
            assert (await http.post(path, data={"form": stale, "channel": []})).status_code == 400

        async with runtime.engine.connect() as conn:
            rows = {(r.channel, r.purpose): r.status for r in await conn.execute(select(consents))}
            methods = {r.method for r in await conn.execute(select(consent_changes.c.method))}
        assert rows[("email", "topic:offers")] == rows[("email", "topic:reviews")] == "withdrawn"
        assert rows[("email", "marketing")] == "granted" and ("email", "topic:new-products") not in rows
        assert "preference_centre" in methods
        assert (await state(runtime))[2] == 0, "no unsubscribe yet"

        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            off = await http.post(path, data={"form": form, "topic": ["new-products"]})
        assert off.status_code == 200 and 'value="email" checked' not in off.text
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(consents.c.status).where(
                consents.c.purpose == "marketing", consents.c.channel == "email"))).scalar_one() == "withdrawn"
        assert (await state(runtime))[2] == 1, "turning email off is an unsubscribe that flows can see"


async def test_public_pages_speak_the_customers_language(sqlite_url: str, smtp_server: DevSmtpServer,
                                                         tmp_path: Path) -> None:
    async with running(sqlite_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        await add_store(runtime)
        en = await marketing_mail_link(runtime, smtp_server, "E1", locale="en")
        zh = await marketing_mail_link(runtime, smtp_server, "Z1", locale="zh-Hans")
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert "Stop marketing emails" in (await http.get(en)).text
            assert "退订" in (await http.get(zh)).text


async def test_double_opt_in_confirmation_is_granted_by_the_button_not_the_link(
        sqlite_url: str, smtp_server: DevSmtpServer) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        await configure(runtime, store, double_opt_in=True)
        event = order_event("order.placed", "D1", T0)
        event["customer"]["accepts_marketing"] = True
        await ingest(runtime, store, event)
        async with runtime.engine.connect() as conn:
            customer_id = (await conn.execute(select(customers.c.id))).scalar_one()
        path = f"/confirm/kumo/{tokens.confirm_token(runtime.signers.of(store), customer_id)}"
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert (await http.get(path)).status_code == 200
            assert (await state(runtime))[0] == ["pending"]
            assert (await http.post(path[:-2] + "xx")).status_code == 400
            assert (await state(runtime))[0] == ["pending"]
            done = await http.post(path)
            assert done.status_code == 200 and "配信登録が完了しました" in done.text
        assert (await state(runtime))[0] == ["granted"]


async def test_a_mail_to_the_mailto_address_passed_on_by_the_store_unsubscribes(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(sqlite_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        _, key = await add_store(runtime)
        await marketing_mail_link(runtime, smtp_server)
        mail = [m for m in received(smtp_server) if category(m) == "marketing"][-1]
        address = re.search(r"<mailto:([^>?]+)", str(mail["List-Unsubscribe"])).group(1)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as http:
            local, domain = address.split("@")
            altered = local[:-1] + ("A" if local[-1] != "A" else "B")
            for bad in (f"{altered}@{domain}", f"news@{domain}", "unsubscribe+@x.example"):
                answer = await http.post("/api/v1/unsubscribes", json={"address": bad})
                assert answer.status_code == 400 and "address:" in answer.text
            assert await state(runtime) == (["granted"], 1, 0)
            answer = await http.post("/api/v1/unsubscribes", json={"address": f"<mailto:{address}?subject=x>"})
            assert answer.json() == {"changed": True}
        assert await state(runtime) == (["withdrawn"], 2, 1)
        async with runtime.engine.connect() as conn:
            methods = [r.method for r in await conn.execute(select(consent_changes.c.method))]
        assert methods[-1] == "mailto"

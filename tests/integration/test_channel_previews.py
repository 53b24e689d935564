"""LINE and SMS beyond the templates, over the real app and database: an SMS's short link redirects
and records the click on its own message (so clicks count per channel), a tampered one gets 400 and an
unknown one 404; previews per channel from the CLI, the admin API and the dashboard, where a store
edits its LINE and SMS versions like its emails; the NPS page an SMS links to."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select
from typer.testing import CliRunner

from afterorder.channels.base import ChannelKind
from afterorder.channels.line_limits import MAX_ALT_TEXT_CHARS as MAX_ALT_TEXT
from afterorder.cli.main import build_app
from afterorder.clock import FrozenClock
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from afterorder.db.schema import customers, engagements, events, outbox, outbox_bodies, template_overrides
from afterorder.db.stores import StoreRow
from afterorder.domain import Event
from afterorder.flows.followups import survey_token
from afterorder.runtime import Runtime
from afterorder.tracking.links import LinkContext, instrument_sms
from afterorder.tracking.settings import load_settings
from afterorder.tracking.short_links import ShortLink, encode, short_url
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import JP_STORE, add_store, order_event, running
from tests.integration.test_dashboard import log_in, token, users

STORE = {**JP_STORE, "support_url": "https://www.kumo.example/help"}
BASE = "http://127.0.0.1:8000"


def client(runtime: Runtime, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=("203.0.113.9", 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers)


async def settle(runtime: Runtime) -> None:
    while await runtime.scheduler.run_due():
        pass


async def sms_message(runtime: Runtime, store: StoreRow, order_id: str) -> tuple[dict[str, Any], list[str]]:
    """The email flow's run for an order, and beside its confirmation an SMS shipping notice of the same run
    written to the outbox as the scheduler writes one (payload ``{"text", "params", "links"}``)."""
    placed = order_event("order.placed", order_id, T0)
    shipment = {"carrier": "Yamato", "tracking_number": "4321", "tracking_url": f"https://www.kumo.example/track/{order_id}"}
    await runtime.intake.ingest(store, [Event.model_validate(placed)])
    await settle(runtime)
    async with runtime.engine.begin() as conn:
        email = (await conn.execute(select(outbox).where(outbox.c.store_id == store.id))).mappings().one()
        key = f"run:{email['run_id']}:step:7"
        order = order_snapshot({"number": f"#{order_id}", "currency": "JPY", "placed_at": T0,
                                "lines": placed["order"]["lines"], "shipment": shipment})
        rendered = runtime.renderer.render_sms("shipping-confirmation", "ja", store=store.snapshot(BASE),
                                               customer=customer_snapshot(placed["customer"]), order=order)
        links = LinkContext(runtime.signers.of(store), store.id, key, BASE, "shipping-confirmation",
                            "shipping-confirmation", await load_settings(conn, store))
        sms = instrument_sms(rendered, links)
        row = {**{k: email[k] for k in ("store_id", "run_id", "customer_id", "order_id")}, "idempotency_key": key,
               "message_id": key, "channel": "sms", "category": "transactional", "template": "shipping-confirmation",
               "locale": "ja", "envelope_from": "", "recipient": "+819012345678", "subject": "", "status": "sent",
               "attempts": 1, "next_attempt_at": T0, "created_at": T0}
        await conn.execute(outbox.insert().values(**row))
        await conn.execute(outbox_bodies.insert().values(store_id=store.id, idempotency_key=key,
                                                         data=sms.payload()))
        sent = (await conn.execute(select(outbox).where(outbox.c.idempotency_key == key))).mappings().one()
    return dict(sent), re.findall(r"https?://\S+", sms.text)


async def test_an_sms_short_link_redirects_and_records_the_click_on_its_message(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime, STORE)
        sent, [link] = await sms_message(runtime, store, "S1")
        assert link.startswith(f"{BASE}/c/") and len(link) < 50
        async with client(runtime) as http:
            clicked = await http.get(link)
        assert clicked.status_code == 302 and "no-store" in clicked.headers["cache-control"]
        target = urlsplit(clicked.headers["location"])
        assert (target.netloc, target.path) == ("www.kumo.example", "/track/S1")
        assert parse_qs(target.query)["utm_medium"] == ["sms"]
        async with runtime.engine.connect() as conn:
            row = (await conn.execute(select(engagements))).mappings().one()
            event = (await conn.execute(select(events).where(events.c.id == row["event_id"]))).mappings().one()
            per_channel = (await conn.execute(select(outbox.c.channel, func.count()).select_from(
                engagements.join(outbox, outbox.c.id == engagements.c.outbox_id)).group_by(outbox.c.channel))).all()
        assert (row["kind"], row["outbox_id"], row["url"]) == ("click", sent["id"], clicked.headers["location"])
        assert event["type"] == "message.clicked" and event["payload"]["message"]["outbox_id"] == sent["id"]
        assert event["order_id"] == sent["order_id"] and event["customer_id"] == sent["customer_id"]
        assert [tuple(r) for r in per_channel] == [("sms", 1)]


async def test_a_tampered_or_unknown_short_link_records_nothing(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime, STORE)
        other, _ = await add_store(runtime, {**STORE, "slug": "other"})
        sent, [link] = await sms_message(runtime, store, "S2")
        code = link.rsplit("/", 1)[1]
        key = sent["idempotency_key"]
        forged = encode(runtime.signers.of(other), ShortLink(store.id, key, 0, True))  # another store's key
        altered = code[:-1] + ("A" if code[-1] != "A" else "B")
        no_message = encode(runtime.signers.of(store), ShortLink(store.id, "run:999999:step:1", 0, True))
        no_such_link = encode(runtime.signers.of(store), ShortLink(store.id, key, 5, True))
        async with client(runtime) as http:
            for bad in (forged, altered, code[:10], "not-a-code!"):
                refused = await http.get(f"/c/{bad}")
                assert refused.status_code in (400, 404) and "location" not in refused.headers
                assert refused.status_code == 400 or bad == "not-a-code!", bad
            for unknown in (no_message, no_such_link):
                missing = await http.get(short_url(BASE, unknown))
                assert missing.status_code == 404 and missing.json()["error"] == "unknown_link"
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(engagements))).scalar_one() == 0


def cli(*args: str, database: str, code: int = 0) -> str:
    result = CliRunner().invoke(build_app(), [*args, "--database", database])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout if code == 0 else result.stderr


async def test_preview_per_channel_from_the_api(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        _, key = await add_store(runtime, STORE)
        auth = {"Authorization": f"Bearer {key}"}
        async with client(runtime, auth) as http:
            line = (await http.get("/api/v1/flows/shipping-confirmation/steps/1/preview",
                                   params={"channel": "line", "locale": "ja"})).json()
            sms = (await http.get("/api/v1/flows/order-confirmation/steps/1/preview",
                                  params={"channel": "sms", "locale": "zh-Hans"})).json()
            text = await http.get("/api/v1/flows/welcome/steps/1/preview",
                                  params={"channel": "sms", "locale": "en", "format": "text"})
            card = await http.get("/api/v1/flows/shipping-confirmation/steps/1/preview",
                                  params={"channel": "line", "format": "html"})
            email = (await http.get("/api/v1/flows/shipping-confirmation/steps/1/preview")).json()
            bad = await http.get("/api/v1/flows/welcome/steps/1/preview", params={"channel": "fax"})
    assert line["channel"] == "line" and line["alt_text"].startswith("ご注文の商品を発送いたしました")
    assert line["messages"][0]["type"] == "flex" and line["messages"][0]["altText"] == line["alt_text"]
    assert sms["channel"] == "sms" and sms["encoding"] == "UCS-2" and 1 <= sms["segments"] <= 3
    assert sms["warning"] is None and "【" not in sms["text"] and sms["params"]["store"] == "雲茶舗"
    assert text.status_code == 200 and text.text.splitlines()[-1] == "Reply STOP to opt out", "welcome is marketing"
    assert card.status_code == 200 and 'class="flex-bubble"' in card.text
    assert email["channel"] == "email" and "subject" in email and "alt_text" not in email
    assert bad.status_code == 422 and "channel" in bad.json()["message"]


def test_preview_per_channel_from_the_command_line(sqlite_url: str, tmp_path: Path) -> None:
    cli("store", "add", "harbor", "--name", "Harbor Goods", "--email-from", "hello@harbor.example", "--locale", "en",
        database=sqlite_url)
    out = cli("preview", "shipping-confirmation/1", "--store", "harbor", "--locale", "en", "--channel", "sms",
              database=sqlite_url)
    assert out.startswith("Harbor Goods: Your order 1001 has shipped.") and "-- 1 segment, GSM-7" in out
    out = cli("preview", "welcome/1", "--store", "harbor", "--locale", "ja", "--channel", "line", "--out",
              str(tmp_path), database=sqlite_url)
    written = json.loads((tmp_path / "welcome-1-ja.line.json").read_text(encoding="utf-8"))
    assert written["messages"][0]["altText"] == "ご登録ありがとうございます" and "wrote" in out
    assert "--channel" in cli("preview", "welcome/1", "--store", "harbor", "--channel", "fax", database=sqlite_url,
                              code=2)


async def test_the_dashboard_shows_every_channel_and_edits_line_and_sms(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        kumo, _ = await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "owner")
            listing = await http.get("/dashboard/kumo/templates")
            assert "Email · LINE · SMS" in listing.text
            page = await http.get("/dashboard/kumo/templates/shipping-confirmation/zh-Hans")
            assert page.status_code == 200
            assert 'id="subject">' in page.text and 'class="flex-bubble"' in page.text
            segments = re.search(r'id="sms-segments"[^>]*>([^<]*)<', page.text).group(1)
            assert re.fullmatch(r"[123] segments?, UCS-2", segments)
            form = token(page.text)
            url = "/dashboard/kumo/templates/shipping-confirmation/zh-Hans"
            line_page = await http.get(url, params={"channel": "line"})
            source = html_lib.unescape(re.search(r'<textarea name="source"[^>]*>(.*?)</textarea>', line_page.text,
                                                 re.S).group(1))
            assert "{% block alt_text %}" in source
            too_long = source.replace("{% block alt_text %}", "{% block alt_text %}" + "长" * MAX_ALT_TEXT)
            refused = await http.post(url, data={"csrf": form, "channel": "line", "action": "save",
                                                 "source": too_long})
            assert refused.status_code == 400 and "altText ≤ 1,500 characters" in html_lib.unescape(refused.text)
            mine = source.replace("发货通知", "您的包裹已出发")
            saved = await http.post(url, data={"csrf": form, "channel": "line", "action": "save", "source": mine})
            assert saved.status_code == 200 and "saved" in saved.text and "您的包裹已出发" in saved.text
            sms_source = "{% block text %}订单 {{ order.number }} 已发货：{{ shipment.tracking_url }}{% endblock %}"
            draft = await http.post(url, data={"csrf": form, "channel": "sms", "action": "preview",
                                               "source": sms_source})
            assert draft.status_code == 200 and "preview of the draft" in draft.text
            assert re.search(r'id="sms-text">订单 1001 已发货：http://127\.0\.0\.1:8000/c/[\w-]+<', draft.text)
            await http.post(url, data={"csrf": form, "channel": "sms", "action": "save", "source": sms_source})
        async with runtime.engine.connect() as conn:
            rows = {(r.template, r.locale) for r in await conn.execute(select(template_overrides))}
            renderer = await runtime.renderers.for_store(conn, kumo.id)
        assert rows == {("shipping-confirmation", "zh-Hans.line"), ("shipping-confirmation", "zh-Hans.sms")}
        order = order_snapshot({"number": "#9", "currency": "JPY", "placed_at": T0, "lines": [],
                                "shipment": {"tracking_url": "https://track.example/9"}})
        snapshot = kumo.snapshot(BASE)
        card = renderer.render_line("shipping-confirmation", "zh-Hans", store=snapshot, customer=None, order=order)
        assert "您的包裹已出发" in card.payload(), "what the store saved is what it sends"
        assert renderer.render_sms("shipping-confirmation", "zh-Hans", store=snapshot, customer=None,
                                   order=order).text == "订单 #9 已发货：https://track.example/9"
        assert renderer.channels_of("shipping-confirmation") == set(ChannelKind)


async def test_the_nps_page_an_sms_links_to_asks_before_it_records(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime, STORE)
        placed = order_event("order.placed", "N1", T0)
        await runtime.intake.ingest(store, [Event.model_validate(placed)])
        async with runtime.engine.connect() as conn:
            customer_id = (await conn.execute(select(customers.c.id))).scalar_one()
        signed = survey_token(runtime.signers.of(store), "nps", customer_id, None)
        async with client(runtime) as http:
            page = await http.get(f"/s/kumo/nps/{signed}")
            bad = await http.get(f"/s/kumo/nps/{signed[:-2]}")
        assert page.status_code == 200 and "雲茶舗をご家族やご友人にすすめる可能性" in page.text
        assert 'name="score" value="10"' in page.text and "checked" not in page.text
        assert bad.status_code == 400
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(events).where(
                events.c.source == "survey"))).scalar_one() == 0

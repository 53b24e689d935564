"""The out-for-delivery notice end to end: an order placed, shipped and then out for delivery through
``POST /api/v1/events`` (uvicorn on loopback) gets the "arrives today" mail once (a real SMTP server
on loopback receives it), with the expected delivery date and the carrier's tracking link, an AMP
part between the plain-text and HTML parts that the official validator passes in ja, zh-Hans and
en, and a link to the order page, whose timeline shows the step with the time the store gave (in the
customer's time zone) and whose JSON and AMP status say the same; a delivery that comes first means
no notice at all.  An import (history) projects the time onto the order the same way, and sends
nothing."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import flow_runs, orders
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.compliance_helpers import delivery, parts, received
from tests.conftest import T0
from tests.factories import JP_STORE, add_store, order_event, running
from tests.integration.test_amp_email import BASE, STATUS, amp_of, validate, validator
from tests.integration.test_order_page import LINK
from tests.integration.test_unsubscribe_http import serving

TOKYO = ZoneInfo("Asia/Tokyo")
SUBJECTS = {"ja": "本日お届け予定です", "zh-Hans": "今天送达", "en": "arrives today"}


async def _post(runtime: Runtime, http: httpx.AsyncClient, key: str, *events: dict[str, Any]) -> None:
    for event in events:
        answer = await http.post("/api/v1/events", json=event, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
    while await runtime.scheduler.run_due():
        pass


def _notices(smtp_server: DevSmtpServer, order_id: str, locale: str) -> list[EmailMessage]:
    return [m for m in received(smtp_server)
            if m["To"] == f"{order_id.lower()}@example.com" and SUBJECTS[locale] in str(m["Subject"])]


def _tokyo(at: datetime) -> str:
    local = at.astimezone(TOKYO)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


async def test_placed_shipped_out_for_delivery_sends_the_notice_once_and_the_page_shows_the_step(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock, base_url=BASE) as runtime:
        _store, key = await add_store(runtime)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            shipped = order_event("order.shipped", "K1", clock.now())
            await _post(runtime, http, key, order_event("order.placed", "K1", clock.now()), shipped)
            await delivery(runtime, smtp_server).run_due()
            assert _notices(smtp_server, "K1", "ja") == [], "no notice before the parcel is out"

            clock.advance(86400)
            out_at = clock.now()
            out = order_event("order.out_for_delivery", "K1", out_at, event_id="ofd-K1")
            again = order_event("order.out_for_delivery", "K1", out_at, event_id="ofd-K1-again")  # a second report
            await _post(runtime, http, key, out, out)
            await _post(runtime, http, key, again)
            await delivery(runtime, smtp_server).run_due()
            [mail] = _notices(smtp_server, "K1", "ja")
            assert str(mail["X-Afterorder-Category"]) == "transactional"
            text, html = parts(mail)
            assert "本日お届けの予定です" in text and "お届け予定日：2026年11月24日" in text
            assert "■配送業者：ヤマト運輸" in text and "https://track.example/K1" in text and "1234-5678-9012" in text
            assert "配送状況を確認する" in html and "2026年11月24日" in html  # the tracking button (a tracked link)
            amp = amp_of(mail)  # text/plain, then text/x-amp-html, then text/html
            assert "本日お届け予定です" in amp and STATUS.search(amp) is not None
            link = LINK.search(text)
            assert link is not None and LINK.search(html) is not None, "the notice links to the order page"
            path = link.group(1)

            status = (await http.get(f"{path}.json")).json()
            step = next(s for s in status["steps"] if s["key"] == "out_for_delivery")
            assert step["done"] and step["current"] and step["time"] == _tokyo(out_at)
            assert status["status"] == "shipped" and status["expected"] == "2026年11月24日"
            page = (await http.get(path)).text
            assert _tokyo(out_at) in page and "配達中" in page
            live = await http.get(f"{path}/amp.json", headers={"AMP-Email-Sender": JP_STORE["email_from"]})
            assert live.status_code == 200 and live.json() == status


async def test_a_delivery_before_the_notice_is_sent_means_no_notice(sqlite_url: str,
                                                                    smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    async with running(sqlite_url, clock, base_url=BASE) as runtime:
        _store, key = await add_store(runtime)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            await _post(runtime, http, key, order_event("order.placed", "K2", clock.now()),
                        order_event("order.shipped", "K2", clock.now()))
            clock.advance(86400)
            await http.post("/api/v1/events", headers={"Authorization": f"Bearer {key}"}, json={"events": [
                order_event("order.out_for_delivery", "K2", clock.now()),
                order_event("order.delivered", "K2", clock.now())]})
            while await runtime.scheduler.run_due():
                pass
            await delivery(runtime, smtp_server).run_due()
    assert _notices(smtp_server, "K2", "ja") == [], "the customer already has the parcel"


async def test_the_notice_s_amp_part_passes_the_official_validator_in_every_locale(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    command = validator()
    clock = FrozenClock(T0)
    async with running(sqlite_url, clock, base_url=BASE) as runtime:
        _store, key = await add_store(runtime)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            for order_id, locale in (("J2", "ja"), ("Z2", "zh-Hans"), ("E2", "en")):
                await _post(runtime, http, key, order_event("order.placed", order_id, clock.now(), locale=locale),
                            order_event("order.shipped", order_id, clock.now(), locale=locale),
                            order_event("order.out_for_delivery", order_id, clock.now(), locale=locale))
            await delivery(runtime, smtp_server).run_due()
        files = []
        for order_id, locale in (("J2", "ja"), ("Z2", "zh-Hans"), ("E2", "en")):
            [mail] = _notices(smtp_server, order_id, locale)
            amp = amp_of(mail)
            assert f'lang="{locale}"' in amp and STATUS.search(amp) is not None
            files.append(tmp_path / f"out-for-delivery-{locale}.amp.html")
            files[-1].write_text(amp, encoding="utf-8")
    result = await validate(command, files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.rsplit(": ", 1)[1] for line in result.stdout.splitlines()] == ["PASS"] * 3, result.stdout


async def test_an_import_projects_the_time_and_starts_nothing(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        placed, shipped = T0.replace(day=10), T0.replace(day=11)
        out_at = T0.replace(day=12, hour=0, minute=5)
        await runtime.intake.ingest(store, [Event.model_validate(order_event(kind, "H1", at)) for kind, at in (
            ("order.placed", placed), ("order.shipped", shipped))], source="import", historical=True)
        # a later import brings the rest: the stored order is updated, not inserted
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.out_for_delivery", "H1", out_at))],
                                    source="import", historical=True)
        async with runtime.engine.connect() as conn:
            order = (await conn.execute(select(orders.c.status, orders.c.shipped_at, orders.c.out_for_delivery_at,
                                               orders.c.shipment))).one()
            runs = (await conn.execute(select(func.count()).select_from(flow_runs))).scalar_one()
    assert order.status == "shipped" and order.shipped_at == shipped and order.out_for_delivery_at == out_at
    assert order.shipment["tracking_number"] == "1234-5678-9012", "the shipment the order had is kept"
    assert runs == 0

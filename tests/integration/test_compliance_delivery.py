"""Consent, promotions, legal footer, List-Unsubscribe, DKIM, caps and quiet hours, checked on what
a real SMTP server receives (parsed with Python's email package)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import dkim
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.compliance import dkim as store_dkim
from afterorder.compliance.consent import history
from afterorder.db.schema import consents, customers
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.privacy.double_opt_in import queue_confirmations
from tests.compliance_helpers import (
    category,
    configure,
    delivery,
    ingest,
    marketing_flows,
    outbox_rows,
    parts,
    received,
)
from tests.conftest import T0
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running

PROMO_JA = "からのおすすめ"


def placed(order_id: str, at=T0, *, consent: bool | None = None, locale: str = "ja", **extra: object) -> dict:
    event = order_event("order.placed", order_id, at, locale=locale, **extra)
    if consent is not None:
        event["customer"]["accepts_marketing"] = consent
    return event


async def test_transactional_mail_carries_promotions_only_with_marketing_consent(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)  # JP: opt-in
        await ingest(runtime, store, placed("no", consent=None), placed("yes", consent=True))
        assert await delivery(runtime, smtp_server).run_due() == 2

        mails = {str(m["To"]): m for m in received(smtp_server)}
        without, with_consent = mails["no@example.com"], mails["yes@example.com"]
        assert category(without) == category(with_consent) == "transactional"
        text, html = parts(without)
        assert PROMO_JA not in text and PROMO_JA not in html and 'class="promo"' not in html
        assert "List-Unsubscribe" not in without and "配信停止" not in text
        assert "#no" in text, "the order facts are all there"
        text, html = parts(with_consent)
        assert PROMO_JA in text and PROMO_JA in html and "新着商品や季節のおすすめ" in html


async def test_marketing_mail_has_one_click_unsubscribe_headers_the_legal_footer_and_a_valid_dkim_signature(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(database_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path),
                       base_url="https://mail.kumo.example") as runtime:
        store, _ = await add_store(runtime)
        key = store_dkim.generate_key("ao1", "kumo.example")
        await configure(runtime, store, dkim=key)
        await ingest(runtime, store, placed("A1", consent=True))
        assert await delivery(runtime, smtp_server).run_due() == 2

        [mail] = [m for m in received(smtp_server) if category(m) == "marketing"]
        link, mailto = re.fullmatch(r"<(https://[^>]+)>, <(mailto:[^>]+)>", str(mail["List-Unsubscribe"])).groups()
        assert link.startswith("https://mail.kumo.example/u/kumo/")
        token = link.rsplit("/", 1)[1]
        local = mailto.removeprefix("mailto:").split("@")[0]
        assert local == f"unsubscribe+{token}" and len(local) <= 64
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text, html = parts(mail)
        for needed in ("雲茶舗", "京都府京都市下京区 1-2-3", "support@kumo.example", "配信停止", "受信拒否"):
            assert needed in text and needed in html
        assert f'href="{link}"' in html and link in text
        assert "/preferences/kumo/" in html

        [raw] = [m.raw for m in smtp_server.inbox.all() if b"X-Afterorder-Category: marketing" in m.raw]
        assert raw.startswith(b"DKIM-Signature:")
        record = store_dkim.dns_value(key).encode()
        asked: list[bytes] = []

        def dns(name: bytes, timeout: int = 5) -> bytes:
            asked.append(name)
            return record

        assert dkim.verify(raw, dnsfunc=dns)
        assert asked == [b"ao1._domainkey.kumo.example."]
        signed = re.search(rb"h=([^;]+);", raw.replace(b"\r\n ", b"")).group(1).replace(b" ", b"").split(b":")
        assert signed == [b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe",
                          b"list-unsubscribe-post"]
        assert not dkim.verify(raw.replace(b"\r\nSubject:", b"\r\nSubject: Re:", 1), dnsfunc=dns)
        assert not dkim.verify(raw.replace(b"\r\nList-Unsubscribe-Post:", b"\r\nX-Was:", 1), dnsfunc=dns)


async def test_marketing_needs_consent_under_opt_in_but_not_under_opt_out(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(database_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        jp, _ = await add_store(runtime)
        us, _ = await add_store(runtime, US_STORE)
        await ingest(runtime, jp, placed("J1"))
        await ingest(runtime, us, placed("U1", locale="en"))
        await delivery(runtime, smtp_server).run_due()
        rows = {(r["store_id"], r["category"]): r for r in await outbox_rows(runtime)}
        assert rows[(jp.id, "marketing")]["status"] == "skipped"
        assert rows[(jp.id, "marketing")]["last_error"] == "no marketing consent"
        assert rows[(us.id, "marketing")]["status"] == "sent"
        [us_marketing] = [m for m in received(smtp_server) if category(m) == "marketing"]
        text, _ = parts(us_marketing)
        assert "Unsubscribe" in text and "Harbor Goods" in text


async def test_soft_opt_in_mails_buyers_who_did_not_object(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(database_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        store, _ = await add_store(runtime)
        await configure(runtime, store, rule="soft-opt-in")
        await ingest(runtime, store, placed("B1"))
        await delivery(runtime, smtp_server).run_due()
        assert {r["category"]: r["status"] for r in await outbox_rows(runtime)} == {
            "transactional": "sent", "marketing": "sent"}


async def test_china_ad_prefix_on_marketing_subjects_only(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(database_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        store, _ = await add_store(runtime, {**JP_STORE, "slug": "yun", "country": "CN", "locale": "zh-Hans",
                                             "timezone": "Asia/Shanghai", "currency": "CNY"})
        await configure(runtime, store, china_ad_prefix=True)
        await ingest(runtime, store, placed("C1", consent=True, locale="zh-Hans"))
        await delivery(runtime, smtp_server).run_due()
        subjects = {category(m): str(m["Subject"]) for m in received(smtp_server)}
        assert subjects["marketing"].startswith("【广告】")
        assert not subjects["transactional"].startswith("【广告】")
        text, _ = parts(next(m for m in received(smtp_server) if category(m) == "marketing"))
        assert "退订" in text and "发件人" in text


async def test_quiet_hours_defer_marketing_to_their_end_and_never_drop_it(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    clock = FrozenClock(T0)  # 10:00 in Tokyo
    async with running(database_url, clock, flow_dirs=marketing_flows(tmp_path)) as runtime:
        store, _ = await add_store(runtime)
        await configure(runtime, store, quiet_hours="09:00-12:00")
        await ingest(runtime, store, placed("Q1", consent=True))
        worker = delivery(runtime, smtp_server)
        await worker.run_due()
        [mail] = received(smtp_server)
        assert category(mail) == "transactional", "quiet hours hold back marketing only"
        marketing = next(r for r in await outbox_rows(runtime) if r["category"] == "marketing")
        assert marketing["status"] == "queued" and marketing["attempts"] == 0
        assert marketing["next_attempt_at"] == T0 + timedelta(hours=2)  # 12:00 in Tokyo
        assert marketing["last_error"].startswith("deferred: quiet hours")
        clock.advance(2 * 3600 - 1)
        assert await worker.run_due() == 0
        clock.advance(1)
        assert await worker.run_due() == 1
        assert [category(m) for m in received(smtp_server)] == ["transactional", "marketing"]


async def test_quiet_hours_follow_the_customers_time_zone(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    async with running(database_url, FrozenClock(T0), flow_dirs=marketing_flows(tmp_path)) as runtime:
        store, _ = await add_store(runtime)
        await configure(runtime, store, quiet_hours="09:00-12:00")
        event = placed("TZ", consent=True)
        event["customer"]["timezone"] = "America/Los_Angeles"  # 17:00 the day before: not quiet there
        await ingest(runtime, store, event)
        await delivery(runtime, smtp_server).run_due()
        assert {r["status"] for r in await outbox_rows(runtime)} == {"sent"}


async def test_a_cap_skips_marketing_over_the_limit_with_the_reason(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock, flow_dirs=marketing_flows(tmp_path)) as runtime:
        store, _ = await add_store(runtime)
        await configure(runtime, store, caps=("email:1/24",))
        customer = {"id": "cust-same", "email": "same@example.com", "accepts_marketing": True, "locale": "ja"}
        await ingest(runtime, store, placed("K1", customer=customer), placed("K2", customer=customer))
        await delivery(runtime, smtp_server).run_due()
        marketing = [r for r in await outbox_rows(runtime) if r["category"] == "marketing"]
        assert sorted(r["status"] for r in marketing) == ["sent", "skipped"]
        assert next(r for r in marketing if r["status"] == "skipped")["last_error"].startswith("capped")
        assert sum(category(m) == "transactional" for m in received(smtp_server)) == 2, "caps leave orders alone"

        clock.advance(25 * 3600)  # the window has passed: a new one goes out
        await ingest(runtime, store, placed("K3", at=clock.now(), customer=customer))
        await delivery(runtime, smtp_server).run_due()
        assert [r["status"] for r in await outbox_rows(runtime) if r["category"] == "marketing"][-1] == "sent"


async def test_accepts_marketing_changes_are_recorded_once_each(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        customer = {"id": "c-rec", "email": "rec@example.com", "accepts_marketing": True}
        wording = {"consent_wording": "新商品のお知らせを受け取る", "consent_ip": "203.0.113.7"}
        await ingest(runtime, store, placed("R1", customer=customer, properties=wording))
        await ingest(runtime, store, placed("R2", customer=customer))  # the same yes again: no change
        await ingest(runtime, store, {"id": "chk", "type": "checkout.updated", "occurred_at": T0.isoformat(),
                                      "customer": {**customer, "accepts_marketing": False},
                                      "checkout": {"id": "k1"}})
        await ingest(runtime, store, placed("R3", customer=customer))  # a stale "true": no re-subscription
        later = T0 + timedelta(hours=1)
        clock.advance(3600)
        await ingest(runtime, store, {"id": "chk2", "type": "checkout.completed", "occurred_at": later.isoformat(),
                                      "customer": customer, "checkout": {"id": "k2"}})  # ticked again, later
        async with runtime.engine.connect() as conn:
            customer_id = (await conn.execute(select(customers.c.id).where(
                customers.c.external_id == "c-rec"))).scalar_one()
            changes = await history(conn, store.id, customer_id)
        assert [(c["status"], c["previous"], c["method"]) for c in changes] == [
            ("granted", None, "api"), ("withdrawn", "granted", "checkout"), ("granted", "withdrawn", "checkout")]
        assert changes[0]["wording"] == "新商品のお知らせを受け取る" and changes[0]["source_ip"] == "203.0.113.7"
        assert changes[0]["event_id"] is not None and changes[0]["at"] == T0


async def test_double_opt_in_grants_consent_only_after_the_confirmation(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        await configure(runtime, store, double_opt_in=True)
        await ingest(runtime, store, placed("D1", consent=True))
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(consents.c.status))).scalar_one() == "pending"
        assert await queue_confirmations(runtime.engine, runtime.renderer, runtime.clock.now(),
                                         runtime.settings.base_url, runtime.signers) == 1
        assert await queue_confirmations(runtime.engine, runtime.renderer, runtime.clock.now(),
                                         runtime.settings.base_url, runtime.signers) == 0, "one mail per request"
        await delivery(runtime, smtp_server).run_due()
        mails = {str(m["Subject"]): m for m in received(smtp_server)}
        confirm = mails["【雲茶舗】メール配信登録のご確認"]
        _, html = parts(confirm)
        assert "/confirm/kumo/" in html
        order_mail = next(m for s, m in mails.items() if "ご注文" in s)
        assert PROMO_JA not in parts(order_mail)[1], "pending is not consent"

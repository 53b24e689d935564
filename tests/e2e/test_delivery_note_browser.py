"""The delivery note on the order page in a real headless Chromium, on a desktop window and a 390 px
phone, in Japanese and Simplified Chinese: the customer picks where to leave the parcel and a time
window, writes a few words and saves; saving twice stores one ``order.delivery_note`` event, the page
shows the saved note, a changed note replaces it, and once the parcel is out for delivery the open page
takes the form away by itself.  A tampered link shows the polite page with no
order data and takes no note.  Screenshots of the note's block go to a temporary folder, or to
``docs/`` with ``AFTERORDER_SCREENSHOTS=docs``."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import events
from afterorder.db.stores import StoreRow
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.runtime import Runtime
from tests.compliance_helpers import delivery, ingest, parts, received
from tests.e2e.test_dashboard_browser import CHROMIUM, DOCS, _browser_or_skip
from tests.e2e.test_order_page_browser import CASES, LINK, _event, serving
from tests.factories import add_store, running

NOTES: dict[str, dict[str, Any]] = {
    "ja": {"choice": "box", "window": "19-21", "text": "宅配ボックスは 3 番です",
           "shown": ("宅配ボックスに入れる", "19時〜21時"), "saved": "ご要望を保存しました。",
           "changed": "玄関前に置き配", "closed": "配達中のため"},
    "zh-Hans": {"choice": "concierge", "window": "am", "text": "请交给 1 楼物业前台",
                "shown": ("交给物业或邻居", "上午"), "saved": "备注已保存。", "changed": "放在门口",
                "closed": "包裹正在派送"},
}


async def _stored(runtime: Runtime, store: StoreRow) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(events).where(
            events.c.store_id == store.id, events.c.type == "order.delivery_note"))).scalar_one())


async def _fill(page: Any, note: dict[str, Any]) -> None:
    await page.check(f'#note-form input[name="choice"][value="{note["choice"]}"]')
    await page.check(f'#note-form input[name="window"][value="{note["window"]}"]')
    await page.fill("#note-textarea", note["text"])


@pytest.mark.parametrize("locale", ["ja", "zh-Hans"])
async def test_the_delivery_note_is_saved_once_and_shown(locale: str, tmp_path: Path,
                                                         smtp_server: DevSmtpServer) -> None:
    async_playwright = _browser_or_skip()
    shots = DOCS if os.environ.get("AFTERORDER_SCREENSHOTS") == "docs" else tmp_path
    case, note = CASES[locale], NOTES[locale]
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
    async with running(f"sqlite:///{tmp_path}/afterorder.db", clock) as runtime, serving(runtime) as base, \
            async_playwright() as pw:
        store, _ = await add_store(runtime, {**case["store"], "logo_url": f"{base}/test-images/logo.svg"})
        await ingest(runtime, store, _event(case, "order.placed", clock.now(), base))
        await delivery(runtime, smtp_server).run_due()
        found = LINK.search(parts(received(smtp_server)[-1])[0])
        assert found is not None
        path = found.group(1)

        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            browser_locale = "ja-JP" if locale == "ja" else "zh-CN"
            desktop = await browser.new_page(viewport={"width": 1280, "height": 900}, locale=browser_locale)
            phone = await browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                           is_mobile=True, locale=browser_locale, has_touch=True)
            errors: list[str] = []
            for page in (phone, desktop):
                page.on("pageerror", lambda exc: errors.append(str(exc)))
            # on the phone: the note, saved, then the same note sent again from the page it came back to
            await phone.goto(f"{base}{path}")
            assert await phone.is_visible("#note-form")
            await _fill(phone, note)
            for _ in range(2):
                async with phone.expect_navigation():
                    await phone.click('#note-form button[type="submit"]')
                await phone.wait_for_selector("#note-saved")
            assert await _stored(runtime, store) == 1
            shown = await phone.inner_text("#note")
            assert note["saved"] in shown and note["text"] in shown
            assert all(words in shown for words in note["shown"])
            assert await phone.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
            slug = "ja" if locale == "ja" else "zh"
            await phone.locator("#note").screenshot(path=str(shots / f"order-page-{slug}-note-390.png"))

            # on the desktop: the same page shows the saved note; a changed note replaces it
            await desktop.goto(f"{base}{path}")
            assert note["text"] in await desktop.inner_text("#note-current")
            await desktop.check('#note-form input[name="choice"][value="door"]')
            async with desktop.expect_navigation():
                await desktop.click('#note-form button[type="submit"]')
            await desktop.wait_for_selector("#note-saved")
            assert note["changed"] in await desktop.inner_text("#note-choice")
            assert await _stored(runtime, store) == 2

            # shipped, and on the expected day the open page takes the form away by itself (no reload)
            clock.advance(3600)
            await ingest(runtime, store, _event(case, "order.shipped", clock.now(), base))
            clock.advance(2 * 86400)
            await desktop.wait_for_selector("#note-form", state="hidden", timeout=15000)
            assert note["closed"] in await desktop.inner_text("#note-closed")
            assert note["changed"] in await desktop.inner_text("#note-choice")  # the note in force stays shown
            assert errors == []

            # a tampered link: the polite page, nothing of the order, no form
            body, mac = path.rsplit(".", 1)
            tampered = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
            for page in (desktop, phone):
                answer = await page.goto(f"{base}{tampered}")
                assert answer is not None and answer.status == 404
                text = await page.inner_text("body")
                assert case["gone"] in text and await page.query_selector("#note-form") is None
                for secret in ("1001", case["store"]["name"], note["text"], note["shown"][0]):
                    assert secret not in text
        finally:
            await browser.close()
        assert await _stored(runtime, store) == 2

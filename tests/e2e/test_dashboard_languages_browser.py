"""Every dashboard page in English, Japanese and Simplified Chinese, in a real headless Chromium
against a real ``afterorder serve``: the browser's language picks the dashboard's, each page's heading
is in it, and the language picker changes it for the user.  Each page is photographed in each
language at desktop width (1280 px) and phone width (390 px): to a temporary folder, or to
``docs/dashboard/<page>-<lang>.png`` and ``<page>-<lang>-390.png`` with ``AFTERORDER_SCREENSHOTS=docs``
(how the pictures in docs/ are made)."""

from __future__ import annotations

import os
from pathlib import Path

from afterorder.abtests.model import Variant
from afterorder.abtests.records import start_test
from afterorder.clock import SystemClock
from afterorder.db.stores import get_store
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.segments import membership
from tests.dashboard_history import build_history, build_year
from tests.e2e.processes import add_store_cli, serve
from tests.e2e.test_dashboard_browser import CHROMIUM, DOCS, PASSWORD, _browser_or_skip, add_user
from tests.factories import running

BROWSER_LOCALE = {"en": "en-US", "ja": "ja-JP", "zh_Hans": "zh-CN"}
FILE_LANG = {"en": "en", "ja": "ja", "zh_Hans": "zh-Hans"}
# page name → (path under /dashboard/kumo/, the heading's start in each language)
PAGES: dict[str, tuple[str, dict[str, str]]] = {
    "flows": ("flows", {"en": "Flows", "ja": "フロー", "zh_Hans": "流程"}),
    "messages": ("messages", {"en": "Messages", "ja": "メッセージ", "zh_Hans": "消息"}),
    "benchmarks": ("benchmarks", {"en": "Benchmarks", "ja": "ベンチマーク", "zh_Hans": "行业基准"}),
    "retention": ("retention", {"en": "Retention", "ja": "リテンション", "zh_Hans": "留存"}),
    "customers": ("customers?q=example.com", {"en": "Customers", "ja": "顧客", "zh_Hans": "客户"}),
    "segments": ("segments", {"en": "Segments", "ja": "セグメント", "zh_Hans": "客户分群"}),
    "templates": ("templates", {"en": "Templates", "ja": "テンプレート", "zh_Hans": "模板"}),
    "template": ("templates/order-confirmation/ja", {"en": "order-confirmation", "ja": "order-confirmation",
                                                     "zh_Hans": "order-confirmation"}),
    "abtests": ("tests", {"en": "A/B tests", "ja": "A/B テスト", "zh_Hans": "A/B 测试"}),
    "abtest-new": ("tests/new?step=delivery-follow-up:6", {"en": "New A/B test", "ja": "新しい A/B テスト",
                                                           "zh_Hans": "新建 A/B 测试"}),
}
# a line of each page only a translated page has (the template page's heading is the message's id)
TRANSLATED = {"en": "Send a test mail", "ja": "テストメールを送信", "zh_Hans": "发送测试邮件"}


async def test_every_page_in_every_language(tmp_path: Path, smtp_server: DevSmtpServer) -> None:
    async_playwright = _browser_or_skip()
    shots = DOCS / "dashboard" if os.environ.get("AFTERORDER_SCREENSHOTS") == "docs" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{tmp_path}/afterorder.db"
    add_store_cli(database, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    add_user(database, "agency", "--store", "kumo", "--role", "owner")
    add_user(database, "staff", "--store", "kumo", "--role", "viewer", "--language", "zh_Hans")
    async with running(database, SystemClock()) as runtime:  # something on every page
        async with runtime.engine.connect() as conn:
            store = await get_store(conn, "kumo")
        assert store is not None
        history = await build_history(runtime, store)
        await build_year(runtime, store)
        now = runtime.clock.now()
        async with runtime.engine.begin() as conn:
            await membership.define(conn, store, "repeat", {"field": "stats.order_count", "op": ">=", "value": 2},
                                    now, "Repeat buyers")
            await start_test(conn, store.id, name="件名に注文番号", flow_id="order-confirmation", step=0,
                             template="order-confirmation",
                             variants=(Variant("A", 50), Variant("B", 50, {"ja": "【B】ご注文 {{ order.number }}"})),
                             metric="open", confidence=0.95, min_sample=500, user="agency", now=now)
    customer = history["customers"][1]
    async with serve(database, smtp_server.url, "--dev-clock") as url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            for language, browser_locale in BROWSER_LOCALE.items():
                lang = FILE_LANG[language]
                context = await browser.new_context(locale=browser_locale, viewport={"width": 1280, "height": 900})
                page = await context.new_page()
                await page.goto(f"{url}/login")
                assert await page.get_attribute("html", "lang") == lang
                await page.screenshot(path=str(shots / f"login-{lang}.png"), full_page=True)
                await page.set_viewport_size({"width": 390, "height": 844})
                await page.screenshot(path=str(shots / f"login-{lang}-390.png"), full_page=True)
                await page.set_viewport_size({"width": 1280, "height": 900})
                await page.fill("input[name=username]", "agency")
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{url}/dashboard/kumo/flows")
                pages = {**PAGES, "customer": (f"customers/{customer}", {"en": "名1 山田", "ja": "山田 名1",
                                                                          "zh_Hans": "山田 名1"})}  # family name first
                for name, (path, heading) in pages.items():
                    await page.goto(f"{url}/dashboard/kumo/{path}")
                    assert await page.get_attribute("html", "lang") == lang, name
                    assert (await page.locator("h1").first.inner_text()).startswith(heading[language]), name
                    if name == "template":
                        assert TRANSLATED[language] in await page.inner_text("main")
                    for width, suffix in ((1280, ""), (390, "-390")):
                        await page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
                        await page.screenshot(path=str(shots / f"{name}-{lang}{suffix}.png"), full_page=True)
                await context.close()

            # the picker: an English browser, the user picks 日本語, and keeps it
            context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await page.goto(f"{url}/login")
            await page.fill("input[name=username]", "agency")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{url}/dashboard/kumo/flows")
            assert (await page.locator("h1").inner_text()).startswith("Flows")
            await page.select_option("#language-picker select", "ja")
            await page.click("#language-picker button")
            await page.wait_for_url(f"{url}/dashboard/kumo/flows")
            assert (await page.locator("h1").inner_text()).startswith("フロー")
            await page.goto(f"{url}/dashboard/kumo/messages")
            assert (await page.locator("h1").inner_text()).startswith("メッセージ")
            await context.close()

            # a user created with --language zh_Hans sees Chinese in an English browser from the start
            context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await page.goto(f"{url}/login")
            await page.fill("input[name=username]", "staff")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{url}/dashboard/kumo/flows")
            assert (await page.locator("h1").inner_text()).startswith("流程")
            await context.close()
        finally:
            await browser.close()
    for lang in FILE_LANG.values():
        assert (shots / f"flows-{lang}.png").stat().st_size > 10_000
        assert (shots / f"flows-{lang}-390.png").stat().st_size > 10_000

"""The Content-Security-Policy in a real headless Chromium against a real ``afterorder serve``: the
dashboard, the dev inbox and the public pages load with no policy violation, and what runs on them
still works (the segments page counts as one types, the store switcher switches, the template
preview and the mail shown in the inbox render, the customer's forms submit)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from afterorder.clock import SystemClock
from afterorder.compliance import tokens
from afterorder.db.schema import customers
from afterorder.db.stores import get_store
from afterorder.dev.smtp_server import DevSmtpServer
from tests.compliance_helpers import ingest
from tests.e2e.processes import add_store_cli, serve
from tests.e2e.test_dashboard_browser import CHROMIUM, PASSWORD, _browser_or_skip, add_user
from tests.factories import US_STORE, order_event, running

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


class Watched:
    """A page whose console and policy violations are recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))

    async def visit(self, url: str) -> None:
        await self.page.goto(url)
        await self.clean(url)

    async def clean(self, where: str) -> None:
        violations = await self.page.evaluate("window.__violations")
        assert violations == [], f"{where}: {violations}"
        policy = [line for line in self.console if "Content Security Policy" in line or "Content-Security" in line]
        assert policy == [], f"{where}: {policy}"


async def test_pages_load_under_the_policy_and_still_work(tmp_path: Path, smtp_server: DevSmtpServer) -> None:
    async_playwright = _browser_or_skip()
    from playwright.async_api import expect
    database = f"sqlite:///{tmp_path}/afterorder.db"
    kumo = add_store_cli(database, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    add_store_cli(database, US_STORE["slug"], name=US_STORE["name"], country="US", locale="en",
                  timezone="America/New_York", currency="USD")
    add_user(database, "agency", "--store", "kumo", "--store", "harbor", "--role", "owner")
    async with running(database, SystemClock()) as runtime:
        async with runtime.engine.connect() as conn:
            store = await get_store(conn, "kumo")
        assert store is not None
        await ingest(runtime, store, order_event("order.placed", "C1", SystemClock().now()))
        async with runtime.engine.connect() as conn:
            customer = int((await conn.execute(select(customers.c.id))).scalar_one())
    preferences = f"/preferences/kumo/{tokens.preferences_token(runtime.signers.of(store), customer)}"
    unsubscribe = f"/u/kumo/{tokens.unsubscribe_token(runtime.signers.of(store), tokens.MessageRef(customer))}"

    async with serve(database, smtp_server.url, "--dev-smtp") as url, async_playwright() as pw:
        async with httpx.AsyncClient() as client:  # a mail in the dev inbox, with its HTML part
            event = order_event("order.placed", "C2", SystemClock().now())
            answer = await client.post(f"{url}/api/v1/events", json=event,
                                       headers={"Authorization": f"Bearer {kumo['api_key']}"})
            assert answer.status_code == 200, answer.text
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
            await context.add_init_script(WATCH)
            await context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
                                or route.request.url.startswith(("data:", "about:")) else route.abort())
            page = Watched(await context.new_page())

            await page.visit(f"{url}/dashboard/kumo/flows")  # to the login page, and back after it
            await page.page.fill("input[name=username]", "agency")
            await page.page.fill("input[name=password]", PASSWORD)
            await page.page.click("button[type=submit]")
            await page.page.wait_for_url(f"{url}/dashboard/kumo/flows")
            await page.clean("after logging in")

            # the store switcher is a script file now: choosing a store still opens it
            await page.page.select_option("#store-switcher select", "harbor")
            await page.page.wait_for_url(f"{url}/dashboard/harbor/flows")
            await page.page.select_option("#store-switcher select", "kumo")
            await page.page.wait_for_url(f"{url}/dashboard/kumo/flows")
            await page.clean("switching stores")

            # the segments page counts the members of the condition as it is typed
            await page.visit(f"{url}/dashboard/kumo/segments")
            count = page.page.locator("#live-count")
            await expect(count).to_have_text("0")  # two orders or more: nobody yet (it showed "…" before)
            await page.page.fill("#definition", "{field: stats.order_count, op: '>=', value: 0}")
            await expect(count).to_have_text(re.compile(r"^[1-9]"))
            await page.page.fill("#definition", "{field: nope, op: '='}")
            await expect(page.page.locator("#live-error")).to_have_text(re.compile(r"\S"))
            await expect(count).to_have_text("–")
            await page.clean("typing a segment")

            # the template preview (a srcdoc frame of inline-styled mail) renders
            await page.visit(f"{url}/dashboard/kumo/templates/order-confirmation/ja")
            assert "ご注文" in await page.page.frame_locator("#preview").locator("body").inner_text()
            await page.clean("the template preview")

            for name in ("flows", "messages", "benchmarks", "retention", "customers", "templates", "tests"):
                await page.visit(f"{url}/dashboard/kumo/{name}")

            # the dev inbox shows the confirmation mail in its frame
            for _ in range(100):
                await page.visit(f"{url}/inbox")
                if await page.page.locator("#mails a").count():
                    break
                await page.page.wait_for_timeout(100)
            else:
                raise AssertionError("no mail reached the dev inbox")
            await page.page.locator("#mails a").first.click()
            await page.page.wait_for_load_state()
            await page.clean("a mail in the inbox")
            assert "ご注文" in await page.page.frame_locator("iframe").locator("body").inner_text()

            # the customer's pages: preferences save, the unsubscribe button unsubscribes
            customer_page = Watched(await context.new_page())
            await customer_page.visit(f"{url}{preferences}")
            await customer_page.page.click("button[type=submit]")
            await customer_page.page.wait_for_load_state()
            await customer_page.clean("saving preferences")
            await customer_page.visit(f"{url}{unsubscribe}")
            await customer_page.page.click("button[type=submit]")
            await customer_page.page.wait_for_load_state()
            assert customer_page.page.url == f"{url}{unsubscribe}"
            await customer_page.clean("unsubscribing")
            assert "配信" in await customer_page.page.inner_text("main")
        finally:
            await browser.close()

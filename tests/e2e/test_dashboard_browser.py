"""The dashboard in a real headless Chromium against a real ``afterorder serve``: log in, switch
store, turn a flow off and on, see a run appear after an event, preview a template in Japanese,
see a chart render.  Screenshots of the main pages go to a temporary folder, or to ``docs/`` with
``AFTERORDER_SCREENSHOTS=docs`` (how the README's pictures are made)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from afterorder.clock import SystemClock
from afterorder.db.stores import get_store
from afterorder.dev.smtp_server import DevSmtpServer
from tests.conftest import T0
from tests.dashboard_history import build_history, build_year
from tests.e2e.processes import AFTERORDER, add_store_cli, serve
from tests.factories import US_STORE, order_event, running
from tests.system_packages import require

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "agency password 1"


def _browser_or_skip() -> Any:
    """Playwright's async API, once Playwright (make install) and Debian's Chromium are there."""
    require(importlib.util.find_spec("playwright") is not None, "playwright (a Python package)", "make install")
    from playwright.async_api import async_playwright

    require(Path(CHROMIUM).exists(), CHROMIUM, "sudo apt-get install chromium")
    return async_playwright


def add_user(database: str, username: str, *args: str) -> None:
    env = {**os.environ, "AFTERORDER_DATABASE_URL": database}
    result = subprocess.run([*AFTERORDER, "user", "add", username, *args, "--password-stdin"], input=PASSWORD + "\n",
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr


async def test_a_store_owner_works_in_the_dashboard(tmp_path: Path, smtp_server: DevSmtpServer) -> None:
    async_playwright = _browser_or_skip()
    shots = DOCS if os.environ.get("AFTERORDER_SCREENSHOTS") == "docs" else tmp_path
    database = f"sqlite:///{tmp_path}/afterorder.db"
    kumo = add_store_cli(database, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    harbor = US_STORE
    add_store_cli(database, harbor["slug"], name=harbor["name"], country="US", locale="en",
                  timezone="America/New_York", currency="USD")
    add_user(database, "agency", "--store", "kumo", "--store", "harbor", "--role", "owner")
    async with running(database, SystemClock()) as runtime:  # a month of history, so the pages have something
        async with runtime.engine.connect() as conn:
            store = await get_store(conn, "kumo")
        assert store is not None
        await build_history(runtime, store)
        await build_year(runtime, store)
    async with serve(database, smtp_server.url, "--dev-clock") as url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            await page.goto(f"{url}/dashboard/kumo/flows")
            assert page.url.startswith(f"{url}/login")  # not logged in yet
            await page.fill("input[name=username]", "agency")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{url}/dashboard/kumo/flows")

            # switch store, and back
            await page.select_option("#store-switcher select", "harbor")
            await page.wait_for_url(f"{url}/dashboard/harbor/flows")
            assert "Harbor Goods" in await page.inner_text("h1")
            await page.select_option("#store-switcher select", "kumo")
            await page.wait_for_url(f"{url}/dashboard/kumo/flows")

            # turn the order confirmation off, then on again
            flow = page.locator("#flow-order-confirmation")
            await flow.locator("button.toggle").click()
            await page.wait_for_load_state()
            assert await page.locator("#flow-order-confirmation .state").inner_text() == "off"
            await page.locator("#flow-order-confirmation button.toggle").click()
            await page.wait_for_load_state()
            assert await page.locator("#flow-order-confirmation .state").inner_text() == "on"

            # an order comes in: its run appears, and its message is sent
            async with httpx.AsyncClient() as client:
                answer = await client.post(f"{url}/api/v1/events", json=order_event("order.placed", "W1", T0),
                                           headers={"Authorization": f"Bearer {kumo['api_key']}"})
                assert answer.status_code in (200, 201, 202), answer.text
            for _ in range(100):
                await page.reload()
                if "sent: 4" in await page.locator('#flow-order-confirmation .step[data-step="0"]').inner_text():
                    break
                await page.wait_for_timeout(100)
            else:
                raise AssertionError("the run of the new order did not show up")
            assert "done 4" in await page.locator("#flow-order-confirmation").inner_text()  # 3 from the history
            await page.screenshot(path=str(shots / "dashboard-flows.png"), full_page=True)

            # the customer's page lists the run and the message
            await page.goto(f"{url}/dashboard/kumo/customers?q=W1@example.com")
            await page.click("#results a")
            assert "order-confirmation" in await page.locator("#runs").inner_text()
            assert "sent" in await page.locator("#messages").inner_text()
            await page.screenshot(path=str(shots / "dashboard-customer.png"), full_page=True)

            # preview a template in Japanese
            await page.goto(f"{url}/dashboard/kumo/templates")
            await page.click('a[href="/dashboard/kumo/templates/order-confirmation/ja"]')
            assert "1001" in await page.locator("#subject").inner_text()
            frame = page.frame_locator("#preview")
            assert "ご注文" in await frame.locator("body").inner_text()
            await page.screenshot(path=str(shots / "dashboard-template-ja.png"), full_page=True)

            # a chart renders on the messages page
            await page.goto(f"{url}/dashboard/kumo/messages")
            chart = page.locator("#chart svg.chart")
            await chart.wait_for()
            box = await chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            assert await page.locator("#chart polyline.series").count() == 4
            # the last 30 days: two confirmations of the history and the new one (not the October one)
            sent = await page.locator('tr.message[data-flow="order-confirmation"] .sent').inner_text()
            assert sent.strip() == "3"
            follow_up = page.locator('tr.message[data-flow="delivery-follow-up"]')
            assert (await follow_up.locator(".open-rate").inner_text()).strip() == "55.56%"
            await page.screenshot(path=str(shots / "dashboard-messages.png"), full_page=True)

            # an A/B test on the confirmation's subject, started from the flow's step; new orders split
            await page.goto(f"{url}/dashboard/kumo/flows")
            await page.click('#flow-order-confirmation a.ab-link')
            await page.fill("input[name=name]", "件名に注文番号")
            await page.fill("input[name=subject_ja]", "【B】{{ customer.last_name }}様 ご注文 {{ order.number }}")
            await page.fill("input[name=min_sample]", "500")
            await page.click("#test-form button")
            await page.wait_for_url(f"{url}/dashboard/kumo/tests")
            async with httpx.AsyncClient() as client:
                for n in range(2, 12):
                    answer = await client.post(f"{url}/api/v1/events", json=order_event("order.placed", f"W{n}", T0),
                                               headers={"Authorization": f"Bearer {kumo['api_key']}"})
                    assert answer.status_code in (200, 201, 202), answer.text
            for _ in range(100):
                await page.reload()
                cells = await page.locator(".abtest .delivered").all_inner_texts()
                if sum(int(c) for c in cells) == 10:
                    break
                await page.wait_for_timeout(100)
            else:
                raise AssertionError("the test's messages did not show up as delivered")
            assert await page.locator(".abtest .status").inner_text() == "running"
            assert "500" in await page.locator(".abtest .verdict").inner_text()  # waiting for the sample
            subjects = [str(m.subject) for m in smtp_server.inbox.all()]
            assert any(s.startswith("【B】") for s in subjects) and not all(s.startswith("【B】") for s in subjects)
            await page.screenshot(path=str(shots / "dashboard-abtests.png"), full_page=True)

            for name in ("benchmarks", "retention", "segments"):
                await page.goto(f"{url}/dashboard/kumo/{name}")
                assert (await page.locator("h1").inner_text()).startswith(name.capitalize())
                await page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=True)
        finally:
            await browser.close()
    assert (shots / "dashboard-flows.png").stat().st_size > 10_000

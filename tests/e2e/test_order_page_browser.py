"""The customer's order page in a real headless Chromium, on a desktop window and a 390 px phone, in
Japanese and Simplified Chinese: opened from the link in the order mail, its timeline moves when
``order.shipped`` and ``order.delivered`` arrive while it is open (its script polls, no reload), the
carrier's tracking link appears, and a tampered link shows the polite page with no order data.
Screenshots go to a temporary folder, or to ``docs/`` with ``AFTERORDER_SCREENSHOTS=docs``."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.responses import Response

from afterorder.clock import FrozenClock
from afterorder.db.stores import StoreRow
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.compliance_helpers import delivery, ingest, parts, received
from tests.e2e.test_dashboard_browser import CHROMIUM, DOCS, _browser_or_skip
from tests.factories import add_store, running

LINK = re.compile(r"https?://[^/\s]+(/o/[^/\s]+/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")
SWATCH = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><rect width="120" height="120" '
          'fill="{bg}"/><circle cx="60" cy="64" r="30" fill="{fg}"/></svg>')
COLOURS = {"logo": ("#ffffff", "#2f6b4f"), "a": ("#e8efe6", "#6f8f5e"), "b": ("#f3ebe1", "#b5835a"),
           "c": ("#e6ecf3", "#5a7fb5")}

CASES: dict[str, dict[str, Any]] = {
    "ja": {
        "store": {"slug": "kumo", "name": "雲茶舗", "email_from": "shop@kumo.example",
                  "reply_to": "support@kumo.example", "country": "JP", "locale": "ja", "timezone": "Asia/Tokyo",
                  "currency": "JPY",
                  "support_email": "support@kumo.example", "support_phone": "03-1234-5678",
                  "brand_color": "#2f6b4f"},
        "customer": {"first_name": "花子", "last_name": "佐藤", "locale": "ja", "timezone": "Asia/Tokyo"},
        "currency": "JPY",
        "lines": [("京焼 急須", "白磁", 1, 15000, "a"), ("玉露 100g", None, 2, 2400, "b")],
        "address": {"name": "佐藤 花子", "postal_code": "150-0041", "region": "東京都", "city": "渋谷区",
                    "line1": "神南1-2-3", "line2": "雲ビル 5F", "country": "JP"},
        "carrier": "ヤマト運輸", "number": "4567-8901-2345",
        "picks": [("茶こし", 1200, "c"), ("湯呑み 二客", 3800, "a"), ("煎茶 深蒸し", 1600, "b")],
        "steps": ("ご注文受付", "発送済み", "お届け完了"), "track": "toi.kuronekoyamato.co.jp",
        "gone": "このリンクはご利用いただけません",
    },
    "zh-Hans": {
        "store": {"slug": "yunshan", "name": "云杉家居", "email_from": "shop@yunshan.example",
                  "reply_to": "kefu@yunshan.example", "country": "CN", "locale": "zh-Hans",
                  "timezone": "Asia/Shanghai", "currency": "CNY", "support_email": "kefu@yunshan.example",
                  "brand_color": "#c0392b"},
        "customer": {"first_name": "小龙", "last_name": "李", "locale": "zh-Hans", "timezone": "Asia/Shanghai"},
        "currency": "CNY",
        "lines": [("亚麻床品四件套", "1.8 米", 1, 899, "c"), ("香薰蜡烛", None, 3, 69, "b")],
        "address": {"name": "李小龙", "postal_code": "200040", "region": "上海市", "city": "静安区",
                    "line1": "南京西路 1266 号", "line2": "恒隆广场 18 楼", "country": "CN"},
        "carrier": "顺丰", "number": "SF1234567890123",
        "picks": [("羊毛毯", 459, "a"), ("棉麻靠垫", 129, "c"), ("陶瓷花瓶", 199, "b")],
        "steps": ("已下单", "已发货", "已签收"), "track": "sf-express.com",
        "gone": "此链接无法使用",
    },
}


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[str]:
    """The app on a free loopback port, its order page polling every half second; product pictures and
    the store's logo served by the app itself (the page's policy loads images from itself or https)."""
    app = create_app(runtime)
    app.state.order_poll_seconds = 0.5

    @app.get("/test-images/{name}.svg")
    async def _image(name: str) -> Response:
        bg, fg = COLOURS.get(name, ("#eeeeee", "#999999"))
        return Response(SWATCH.format(bg=bg, fg=fg), media_type="image/svg+xml")

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


def _event(case: dict[str, Any], kind: str, at: datetime, base: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"{kind}:O-1001", "type": kind, "occurred_at": at.isoformat(),
        "customer": {"id": "c-1", "email": "customer@example.com", **case["customer"]},
        "order": {"id": "O-1001", "number": "1001", "currency": case["currency"],
                  "subtotal": sum(q * p for _, _, q, p, _ in case["lines"]), "shipping": 0,
                  "total": sum(q * p for _, _, q, p, _ in case["lines"]),
                  "lines": [{"product_id": f"p{i}", "title": title, "variant": variant, "quantity": quantity,
                             "price": price, "image_url": f"{base}/test-images/{image}.svg",
                             "url": f"{base}/test-products/p{i}"}
                            for i, (title, variant, quantity, price, image) in enumerate(case["lines"])],
                  "shipping_address": case["address"]},
    }
    if kind == "order.shipped":
        event["shipment"] = {"carrier": case["carrier"], "tracking_number": case["number"],
                             "estimated_delivery": (at + timedelta(days=2)).isoformat()}
    return event


async def _timeline(page: Any) -> list[str]:
    return [str(await li.get_attribute("data-step")) for li in await page.query_selector_all("#timeline li.done")]


@pytest.mark.parametrize("locale", ["ja", "zh-Hans"])
async def test_the_order_page_follows_the_order_while_open(locale: str, tmp_path: Path,
                                                           smtp_server: DevSmtpServer) -> None:
    async_playwright = _browser_or_skip()
    shots = DOCS if os.environ.get("AFTERORDER_SCREENSHOTS") == "docs" else tmp_path
    case = CASES[locale]
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
    async with running(f"sqlite:///{tmp_path}/afterorder.db", clock) as runtime, serving(runtime) as base, \
            async_playwright() as pw:
        store: StoreRow
        store, _ = await add_store(runtime, {**case["store"], "logo_url": f"{base}/test-images/logo.svg"})
        await ingest(runtime, store, *[  # the store's catalog: the page's cross-sell picks
            {"id": f"product:x{i}", "type": "product.updated", "occurred_at": clock.now().isoformat(),
             "product": {"id": f"x{i}", "title": title, "price": price, "currency": case["currency"],
                         "image_url": f"{base}/test-images/{image}.svg", "url": f"{base}/test-products/x{i}",
                         "in_stock": True}}
            for i, (title, price, image) in enumerate(case["picks"])])
        await ingest(runtime, store, _event(case, "order.placed", clock.now(), base))
        await delivery(runtime, smtp_server).run_due()
        text, _ = parts(received(smtp_server)[-1])
        found = LINK.search(text)
        assert found is not None, text
        path = found.group(1)

        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            browser_locale = "ja-JP" if locale == "ja" else "zh-CN"
            desktop = await browser.new_page(viewport={"width": 1280, "height": 900}, locale=browser_locale)
            phone = await browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                           is_mobile=True, locale=browser_locale, has_touch=True)
            errors: list[str] = []
            for page in (desktop, phone):
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                        if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
                await page.goto(f"{base}{path}")
                assert await page.get_attribute("html", "lang") == locale
                assert await _timeline(page) == ["placed"]
                assert case["steps"][0] in await page.inner_text("#timeline li.current")
                assert case["lines"][0][0] in await page.inner_text("main")
                assert await page.eval_on_selector_all(".picks .pick-title", "els => els.map(e => e.textContent)") == [
                    title for title, _, _ in case["picks"]]
                assert not await page.is_visible("#next")  # a review is asked for once it has arrived
            assert await phone.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
            slug = "ja" if locale == "ja" else "zh"
            await desktop.screenshot(path=str(shots / f"order-page-{slug}-placed-desktop.png"), full_page=True)

            clock.advance(3600)
            await ingest(runtime, store, _event(case, "order.shipped", clock.now(), base))
            for page in (desktop, phone):  # no reload: the page's script picks the change up
                await page.wait_for_selector('#timeline li[data-step="shipped"].current', timeout=15000)
                assert await _timeline(page) == ["placed", "paid", "shipped"]
                assert await page.inner_text("#carrier") in ("ヤマト運輸", "顺丰速运")
                assert await page.inner_text("#tracking-number") == case["number"]
                assert case["track"] in str(await page.get_attribute("#track", "href"))
                assert await page.is_visible("#track")
            await phone.screenshot(path=str(shots / f"order-page-{slug}-shipped-390.png"), full_page=True)

            clock.advance(2 * 86400)
            await ingest(runtime, store, _event(case, "order.delivered", clock.now(), base))
            for page in (desktop, phone):
                await page.wait_for_selector('#timeline li[data-step="delivered"].current', timeout=15000)
                assert await _timeline(page) == ["placed", "paid", "shipped", "out_for_delivery", "delivered"]
                assert case["steps"][2] in await page.inner_text("#timeline li.current")
                assert await page.is_visible("#next")
            await desktop.screenshot(path=str(shots / f"order-page-{slug}-delivered-desktop.png"), full_page=True)
            assert errors == []

            # a tampered token: the polite page, nothing of the order
            body, mac = path.rsplit(".", 1)
            tampered = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
            for page in (desktop, phone):
                answer = await page.goto(f"{base}{tampered}")
                assert answer is not None and answer.status == 404
                shown = await page.inner_text("body")
                assert case["gone"] in shown
                for secret in ("1001", case["lines"][0][0], case["store"]["name"], case["number"]):
                    assert secret not in shown
            await phone.screenshot(path=str(shots / f"order-page-{slug}-invalid-390.png"), full_page=True)
        finally:
            await browser.close()

"""The thank-you block in a real headless Chromium, embedded in a plain test page of another origin
(another loopback port) under a strict Content-Security-Policy that allows afterorder's origin for
scripts and fetches only: the block appears with the store's picks in the customer's language, the
newsletter opt-in is recorded with its source ``thank-you-page``, the survey answer is stored once,
the script weighs under 20 KB, and no request leaves the two origins.  A page with a wrong token
shows nothing and is told nothing.  A screenshot goes to a temporary folder, or to ``docs/`` with
``AFTERORDER_SCREENSHOTS=docs``."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from afterorder.clock import FrozenClock
from afterorder.db.schema import events, survey_answers
from afterorder.web.app import create_app
from tests.e2e.test_dashboard_browser import CHROMIUM, DOCS, _browser_or_skip
from tests.factories import running
from tests.feedback_helpers import add_channel
from tests.thank_you_helpers import PICKS, api, shop_with_order

SCRIPT_LIMIT = 20 * 1024
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Thank you - Kumo Tea</title></head>
<body><main><h1>Order received</h1><p>Your order is confirmed.</p>
<script async src="{script}" data-order="{token}"></script>
<p id="after">The rest of the shop's page.</p></main></body></html>
"""
SWATCH = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><rect width="120" height="120" '
          'fill="#e8efe6"/><circle cx="60" cy="64" r="30" fill="#6f8f5e"/></svg>')


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
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


class ShopSite:
    """The store's own site: its order-confirmation page (``/thanks?token=``) under a strict policy,
    and its product pictures."""

    def __init__(self) -> None:
        self.afterorder = ""
        self.app = Starlette(routes=[Route("/thanks", self.thanks), Route("/img/{name}", self.image)])

    async def thanks(self, request: Request) -> Response:
        policy = (f"default-src 'self'; script-src 'self' {self.afterorder}; connect-src 'self' {self.afterorder}; "
                  "style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'")
        html = PAGE.format(script=f"{self.afterorder}/w/kumo.js", token=request.query_params["token"])
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})

    async def image(self, request: Request) -> Response:
        return Response(SWATCH, media_type="image/svg+xml")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def test_the_block_on_the_shops_own_page(tmp_path: Path) -> None:
    async_playwright = _browser_or_skip()
    shots = DOCS if os.environ.get("AFTERORDER_SCREENSHOTS") == "docs" else tmp_path
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    site = ShopSite()
    async with running(f"sqlite:///{tmp_path}/afterorder.db", clock) as runtime:
        app = create_app(runtime)
        async with serve(app) as afterorder, serve(site.app) as shop_url, async_playwright() as pw:
            site.afterorder = afterorder
            shop = await shop_with_order(runtime, app, image_base=f"{shop_url}/img", origins=[shop_url])
            await add_channel(runtime, shop.store, "line", {"basic_id": "@kumo", "channel_secret": "s" * 32,
                                                            "channel_access_token": "line-token"})
            body, mac = shop.token.rsplit(".", 1)
            wrong = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            try:
                page = await browser.new_page(viewport={"width": 800, "height": 1000}, locale="en-US")
                requests: list[str] = []
                problems: list[str] = []
                page.on("request", lambda r: requests.append(r.url))
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                page.on("console", lambda m: problems.append(m.text)
                        if m.type in ("error", "warning") and "status of 404" not in m.text else None)
                page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                        if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
                async with page.expect_response(f"{afterorder}/w/kumo.js") as script_answer:
                    await page.goto(f"{shop_url}/thanks?token={shop.token}")
                script = await (await script_answer.value).body()
                assert len(script) < SCRIPT_LIMIT, f"the script weighs {len(script)} bytes"
                await page.wait_for_selector(".pick-title", timeout=15000)
                assert await page.locator(".pick-title").all_inner_texts() == [t for t, _ in PICKS]
                assert await page.locator("section.ao h2").inner_text() == "ご注文ありがとうございます"
                # the block's own styles apply under the host's policy (no inline style allowed there)
                radius = await page.locator("section.ao").evaluate("e => getComputedStyle(e).borderTopLeftRadius")
                assert radius == "10px"
                # placed right after the script tag, before the rest of the page
                assert await page.evaluate(
                    "document.querySelector('[data-afterorder-block]').nextElementSibling.id") == "after"
                line = await page.locator("div.line a").get_attribute("href")
                # the LINE linking flow, at afterorder's public address
                assert line is not None and line.startswith(f"{runtime.settings.base_url.rstrip('/')}/line/link/kumo/")
                await page.screenshot(path=str(shots / "thank-you-block-ja.png"), full_page=True)

                await page.locator("button.subscribe").click()
                await page.wait_for_selector("text=ご登録ありがとうございます。", timeout=15000)
                await page.locator('button[data-answer="social"]').click()
                await page.wait_for_selector("text=ご回答ありがとうございます。", timeout=15000)
                await page.reload()  # answered: the block says so, and offers neither again
                await page.wait_for_selector(".pick-title", timeout=15000)
                assert await page.locator("button.subscribe").count() == 0
                assert await page.locator("button[data-answer]").count() == 0
                again = await page.evaluate(  # the same answer posted again from the shop's page
                    "url => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},"
                    " body: JSON.stringify({answer: 'social'})}).then(r => r.status)",
                    f"{afterorder}/w/kumo/{shop.token}/survey")
                assert again == 200
                assert {_origin(u) for u in requests} == {shop_url, afterorder}, requests
                assert problems == [], problems

                requests.clear()
                wrong_page = await browser.new_page(locale="en-US")
                wrong_page.on("request", lambda r: requests.append(r.url))
                async with wrong_page.expect_response(lambda r: r.url.startswith(f"{afterorder}/w/kumo/")) as data:
                    await wrong_page.goto(f"{shop_url}/thanks?token={wrong}")
                answer = await data.value
                assert answer.status == 404
                async with httpx.AsyncClient() as http:  # what the page was told (its script never reads it)
                    leaked = (await http.get(answer.url, headers={"Origin": shop_url})).text
                assert json.loads(leaked) == {"error": "not_found", "message": "no such order link"}
                await wrong_page.wait_for_timeout(500)
                assert await wrong_page.locator("[data-afterorder-block]").count() == 0
                shown = await wrong_page.inner_text("body")
                for secret in ("雲茶舗", *(t for t, _ in PICKS), "A1"):
                    assert secret not in shown and secret not in leaked
                assert {_origin(u) for u in requests} == {shop_url, afterorder}
            finally:
                await browser.close()
            async with api(app, shop.key) as http:
                consents = (await http.get("/api/v1/consents/cust-A1")).json()
            assert [(c["method"], c["status"]) for c in consents["changes"]] == [("thank-you-page", "granted")]
            async with runtime.engine.connect() as conn:
                stored = (await conn.execute(select(survey_answers.c.answers))).scalars().all()
                answered = (await conn.execute(select(func.count()).select_from(events).where(
                    events.c.type == "survey.answered"))).scalar_one()
            assert [a["heard-about"] for a in stored] == ["social"] and answered == 1

"""The development inbox of a real ``afterorder demo`` in headless Chromium, on a phone-sized screen:
a LINE message sent through the Kyoto store's stored setup (``afterorder channels test``, another
process) shows as a chat bubble in Japanese, drawn with a CJK font; a Flex order card pushed to the
demo's local LINE as its API takes it shows its hero, items, total and button; an SMS through the
US store's Twilio setup shows in its phone thread with its segments and encoding; the page asks
nothing of any other server but the message's images.  Screenshots go to a temporary folder, or
to ``docs/`` with ``AFTERORDER_SCREENSHOTS=docs``."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from afterorder.dev.demo_reach import line_user_id
from afterorder.dev.sinks.line import DEV_TOKEN
from tests.e2e.processes import AFTERORDER, cli, free_port
from tests.e2e.test_dashboard_browser import CHROMIUM, DOCS, _browser_or_skip
from tests.system_packages import cjk_font_installed, require

HANAKO = line_user_id("c-kumo-tea-3")  # the LINE id of the Kyoto store's second customer, its first on LINE
PHONE = "+14155550199"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class Demo:
    url: str
    line_url: str
    database: str


@asynccontextmanager
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    """``afterorder demo`` in its own process, until it has printed where everything is."""
    port, database = free_port(), f"sqlite:///{tmp_path}/demo.db"
    process = await asyncio.create_subprocess_exec(
        *AFTERORDER, "demo", "--listen", f"127.0.0.1:{port}", "--database", database,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert process.stdout is not None
    printed: list[str] = []
    drain: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(60):
            while not any(line.startswith("demo:") for line in printed):
                line = (await process.stdout.readline()).decode()
                assert line, "the demo stopped:\n" + "".join(printed)
                printed.append(line)
        found = re.search(r"local LINE Messaging API on (http://\S+)", "".join(printed))
        assert found, "".join(printed)
        drain = asyncio.create_task(process.stdout.read())
        yield Demo(f"http://127.0.0.1:{port}", found.group(1), database)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
        if drain is not None:
            drain.cancel()


def order_card() -> dict[str, Any]:
    return {"type": "flex", "altText": "ご注文ありがとうございます（#1099）", "contents": {
        "type": "bubble",
        "hero": {"type": "image", "url": "https://cdn.example/tea.jpg", "size": "full", "aspectRatio": "20:13"},
        "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
            {"type": "text", "text": "ご注文ありがとうございます", "weight": "bold", "size": "lg"},
            {"type": "box", "layout": "horizontal", "contents": [
                {"type": "text", "text": "京焼 急須", "flex": 1},
                {"type": "text", "text": "¥8,800", "align": "end", "flex": 0}]},
            {"type": "box", "layout": "horizontal", "contents": [
                {"type": "text", "text": "合計", "weight": "bold"},
                {"type": "text", "text": "¥9,400", "weight": "bold", "align": "end"}]}]},
        "footer": {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary",
             "action": {"type": "uri", "label": "ご注文内容を確認する", "uri": "https://kumo.example/o/1099"}}]}}}


async def fonts_of(page: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium drew the element's text with (DevTools' "Rendered fonts")."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("DOM.enable")
    await cdp.send("CSS.enable")
    root = await cdp.send("DOM.getDocument", {"depth": -1})
    node = await cdp.send("DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector})
    found: list[dict[str, Any]] = (await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]}))["fonts"]
    return found


async def test_line_chats_and_sms_threads_in_a_phones_browser(tmp_path: Path) -> None:
    async_playwright = _browser_or_skip()
    require(cjk_font_installed(), "the Noto CJK font", "sudo apt-get install fontconfig fonts-noto-cjk")
    shots = DOCS if os.environ.get("AFTERORDER_SCREENSHOTS") == "docs" else tmp_path
    async with demo(tmp_path) as running:
        line = await asyncio.to_thread(cli, "channels", "test", "kumo-tea", "line", "--to", HANAKO,
                                       database=running.database)
        sms = await asyncio.to_thread(cli, "channels", "test", "harbor-goods", "twilio", "--to", PHONE,
                                      database=running.database)
        assert "sent" in line.stdout.lower() and "sent" in sms.stdout.lower(), (line.stdout, sms.stdout)
        async with httpx.AsyncClient() as client:
            pushed = await client.post(f"{running.line_url}/v2/bot/message/push",
                                       json={"to": HANAKO, "messages": [order_card()]},
                                       headers={"Authorization": f"Bearer {DEV_TOKEN}"})
            assert pushed.status_code == 200, pushed.text
            for _ in range(300):  # until the demo has placed that customer's order: the chat is headed by them
                if "· kumo-tea</h2>" in (await client.get(f"{running.url}/inbox/line")).text:
                    break
                await asyncio.sleep(0.1)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="ja-JP")
                asked: list[tuple[str, str]] = []
                page.on("request", lambda r: asked.append((r.resource_type, r.url)))
                await page.goto(f"{running.url}/inbox/line")

                chat = page.locator(f'section.chat[data-to="{HANAKO}"]')
                assert (await chat.locator("h2").inner_text()).endswith("· kumo-tea")
                bubble = chat.locator(".line-text", has_text="テストメッセージ")
                assert await bubble.count() == 1  # the demo's own notices to them are cards
                glyphs = await fonts_of(page, f'section.chat[data-to="{HANAKO}"] .line-text')
                assert any("CJK" in f["familyName"] for f in glyphs), glyphs
                card = chat.locator(".flex-bubble", has_text="¥9,400")
                assert "ご注文ありがとうございます" in await card.inner_text()
                assert (await card.locator(".flex-body > .flex-box > .flex-box").nth(1).inner_text()).split() \
                    == ["合計", "¥9,400"]
                button = card.locator("a.flex-button")
                assert await button.get_attribute("href") == "https://kumo.example/o/1099"
                assert await chat.locator(".notify", has_text="ご注文ありがとうございます（#1099）").count() == 1
                box = await card.bounding_box()
                assert box is not None and 200 < box["width"] <= 390  # the card fits the phone's screen
                await page.screenshot(path=str(shots / "inbox-line.png"), full_page=True)

                await page.click("#tab-sms")
                await page.wait_for_url(f"{running.url}/inbox/sms")
                thread = page.locator(f'section.thread[data-to="{PHONE}"]')
                assert "Harbor Goods: a test message from afterorder" in await thread.locator(".sms-text").inner_text()
                assert await thread.locator(".segments").inner_text() == "1 segment, GSM-7"
                await page.screenshot(path=str(shots / "inbox-sms.png"), full_page=True)

                await page.click("#tab-mail")
                await page.wait_for_url(f"{running.url}/inbox")
                assert await page.locator("#tab-mail.on").count() == 1
            finally:
                await browser.close()
    elsewhere = [(kind, url) for kind, url in asked if not url.startswith(running.url)]
    assert all(kind == "image" for kind, _ in elsewhere), elsewhere  # no style, script or font from elsewhere
    assert (shots / "inbox-line.png").stat().st_size > 10_000

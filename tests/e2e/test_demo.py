"""``make demo`` as a new user meets it: the inbox fills within a minute, the runs page shows flows."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import httpx

from tests.e2e.processes import AFTERORDER, free_port, stop


async def test_the_demo_fills_the_inbox_within_a_minute(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen([*AFTERORDER, "demo", "--listen", f"127.0.0.1:{port}",
                             "--database", f"sqlite:///{tmp_path}/demo.db"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            mails: list[str] = []
            for _ in range(600):
                await asyncio.sleep(0.1)
                try:
                    page = (await client.get("/inbox")).text
                except httpx.TransportError:
                    continue
                mails = re.findall(r'href="/inbox/(\d+)">([^<]*)', page)
                if len(mails) >= 5:
                    break
            assert len(mails) >= 5, "the demo's mails reach the inbox within a minute"
            assert any("ご注文ありがとうございます" in subject for _, subject in mails)
            shown = (await client.get(f"/inbox/{mails[-1][0]}")).text
            assert "srcdoc=" in shown and "Plain text" in shown
            order_link = re.search(r"(?<!/t)/o/[\w-]+/[\w-]+\.[\w-]+", shown)
            assert order_link, "the order mail links to the customer's order page"
            order_page = await client.get(order_link.group(0))
            assert order_page.status_code == 200 and 'id="timeline"' in order_page.text
            runs = (await client.get("/runs")).text
            assert "Order confirmation" in runs
            login = (await client.get("/login")).text
            form = re.search(r'name="csrf" value="([^"]+)"', login)
            assert form
            await client.post("/login", data={"csrf": form.group(1), "username": "demo",
                                              "password": "afterorder-demo"})
            flows = await client.get("/dashboard/kumo-tea/flows")
            assert flows.status_code == 200 and "Order confirmation" in flows.text and "harbor-goods" in flows.text
    finally:
        await stop(demo)
    assert demo.stdout is not None and "/inbox" in demo.stdout.read()


def _count(page: str, tab: str) -> int:
    found = re.search(rf'id="tab-{tab}"[^>]*>[^<]*<span class="count">(\d+)</span>', page)
    return int(found.group(1)) if found else 0


async def test_the_demo_sends_on_line_and_sms_within_a_minute(tmp_path: Path) -> None:
    """Kumo Tea's customers with a LINE id get its notices on LINE (Flex cards), Harbor Goods' customers
    with a phone get texts; the demo says where to look."""
    port = free_port()
    demo = subprocess.Popen([*AFTERORDER, "demo", "--listen", f"127.0.0.1:{port}",
                             "--database", f"sqlite:///{tmp_path}/demo.db"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            line = sms = ""
            for _ in range(600):
                await asyncio.sleep(0.1)
                try:
                    line, sms = (await client.get("/inbox/line")).text, (await client.get("/inbox/sms")).text
                except httpx.TransportError:
                    continue
                if _count(line, "line") and _count(sms, "sms"):
                    break
            assert _count(line, "line") >= 1, "a LINE message reaches the local LINE within a minute"
            assert _count(sms, "sms") >= 1, "an SMS reaches the local Twilio within a minute"
            assert re.search(r'<section class="conversation chat" data-to="U[0-9a-f]{32}">\s*<h2>[^<]+ · kumo-tea</h2>',
                             line)
            assert 'class="flex-bubble"' in line
            assert re.search(r'<section class="conversation thread" data-to="\+1415555\d{4}">\s*<h2>[^<]+ · '
                             r'harbor-goods</h2>', sms)
            assert re.search(r'<span class="segments[^"]*">\d segments?, (GSM-7|UCS-2)</span>', sms)
    finally:
        await stop(demo)
    assert demo.stdout is not None
    printed = demo.stdout.read()
    for path in ("/inbox", "/inbox/line", "/inbox/sms", "/runs", "/dashboard"):
        assert f"http://127.0.0.1:{port}{path}" in printed, path

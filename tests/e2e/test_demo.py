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

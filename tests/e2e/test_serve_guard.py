"""A real ``afterorder serve``: what it says about who can reach it, and whose address it believes."""

from __future__ import annotations

from pathlib import Path

import httpx

from afterorder.cli.serve import listening_note
from afterorder.dev.smtp_server import DevSmtpServer
from tests.e2e.processes import add_store_cli, serve


async def test_serve_says_it_listens_on_loopback_only_and_which_limits_it_applies(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    async with serve(sqlite_url, smtp_server.url, "--rate-limit", "public=60/min,burst=5", log=log) as url:
        pass
    said = log.read_text()
    port = url.rsplit(":", 1)[1]
    assert f"listening on 127.0.0.1:{port}, loopback only: other machines cannot connect" in said
    assert "public 60/min burst 5 per store and client address" in said
    assert "api 10000/s burst 20000 per key" in said and "trusted proxies: none" in said


def test_a_public_address_is_announced_as_reachable() -> None:
    assert "other machines can connect" in listening_note("0.0.0.0", 8000)
    assert "loopback only" in listening_note("[::1]", 8000) and "loopback only" in listening_note("localhost", 80)


async def probes(url: str, forwarded_for: bool) -> list[int]:
    async with httpx.AsyncClient() as client:
        return [(await client.get(f"{url}/u/kumo/guess-{n}",
                                  headers={"X-Forwarded-For": f"198.51.100.{n}"} if forwarded_for else {}))
                .status_code for n in range(25)]


async def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(
        sqlite_url: str, smtp_server: DevSmtpServer) -> None:
    add_store_cli(sqlite_url, "kumo")
    async with serve(sqlite_url, smtp_server.url) as url:  # a client claiming 25 addresses is one client
        answers = await probes(url, forwarded_for=True)
        assert answers[:20] == [400] * 20 and answers[20:] == [429] * 5
    async with serve(sqlite_url, smtp_server.url, "--trusted-proxy", "127.0.0.1") as url:
        assert await probes(url, forwarded_for=True) == [400] * 25  # 25 customers behind our proxy
        assert (await probes(url, forwarded_for=False))[20:] == [429] * 5  # the proxy's own requests: one client

"""A run as an operator has it — ``afterorder serve`` (its own process) with a store holding every
kind of secret, signed and forged platform webhooks, mail sent DKIM-signed, test sends through LINE,
SMS and SES providers that cannot be reached, the dashboard's pages — prints, logs and shows none of
the secrets, nor the key, and leaves none in the database file."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.keys.sealing import new_key
from tests.e2e.processes import serve
from tests.e2e.test_platform_webhooks import japanese_order
from tests.e2e.test_secrets_at_rest import SALEOR_API, SECRETS, assert_nothing_shows, cli, dkim_pem, pem_lines
from tests.e2e.test_secrets_at_rest import raw_database as raw
from tests.platforms import sample, shopify_headers, woocommerce_headers

UNREACHABLE = "http://127.0.0.1:9"  # nothing listens: every send to it fails, and is logged


def cli_with_input(stdin: str, *args: str, database: str, key: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), list(args), input=stdin + "\n",
                                env={"AFTERORDER_DATABASE_URL": database, "AFTERORDER_SECRET_KEY": key,
                                     "AFTERORDER_CONFIG": None})
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.exit_code, result.stdout + result.stderr


def set_up(database: str, key: str) -> str:
    said = []

    def run(*args: str) -> None:
        said.append(cli(*args, database=database, key=key)[1])

    run("store", "add", "kumo", "--name", "雲茶舗", "--email-from", "shop@kumo.example", "--country", "JP",
        "--locale", "ja", "--timezone", "Asia/Tokyo", "--currency", "JPY")
    run("store", "connect", "kumo", "shopify", "--secret", SECRETS["shopify_previous"])
    run("store", "connect", "kumo", "shopify", "--secret", SECRETS["shopify"], "--keep-previous")
    run("store", "connect", "kumo", "woocommerce", "--secret", SECRETS["woocommerce"])
    run("store", "connect", "kumo", "saleor", "--secret", SECRETS["saleor"], "--api-url", SALEOR_API)
    run("channels", "set", "kumo", "ses", "--role", "backup", "--region", "ap-northeast-1", "--access-key-id",
        "AKIAKUMOEXAMPLE", "--secret-access-key", SECRETS["ses_secret_access_key"], "--api-base", UNREACHABLE)
    run("channels", "set", "kumo", "line", "--channel-access-token", SECRETS["line_channel_access_token"],
        "--channel-secret", SECRETS["line_channel_secret"], "--api-base", UNREACHABLE)
    run("channels", "set", "kumo", "twilio", "--account-sid", "AC0123456789abcdef0123456789abcdef",
        "--auth-token", SECRETS["twilio_auth_token"], "--from", "+15005550006", "--api-base", UNREACHABLE)
    run("store", "dkim", "kumo", "--selector", "ao2026", "--domain", "kumo.example")
    run("store", "esp", "kumo", "mailgun", "--signing-key", SECRETS["mailgun_signing_key"])
    code, added = cli_with_input("afterorder-owner-pw-1", "user", "add", "owner", "--store", "kumo",
                                 "--role", "owner", "--password-stdin", database=database, key=key)
    said.append(added)
    for provider, to in (("line", "U" + "0" * 32), ("twilio", "+819012345678"), ("ses", "taro@example.jp")):
        code, answer = cli("channels", "test", "kumo", provider, "--to", to, database=database, key=key, check=False)
        assert code == 1 and '"outcome": "temporary"' in answer, answer  # nothing listens there
        said.append(answer)
    return "\n".join(said)


async def test_serve_with_webhooks_and_sends_logs_no_secret(sqlite_url: str, smtp_server: DevSmtpServer,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    monkeypatch.setenv("AFTERORDER_SECRET_KEY", key)  # serve's process inherits it
    printed = await asyncio.to_thread(set_up, sqlite_url, key)  # the commands run their own event loop
    order = japanese_order()
    woo = sample("woocommerce", "order_created.v3_example.json")
    log = tmp_path / "serve.log"
    async with serve(sqlite_url, smtp_server.url, log=log) as url, httpx.AsyncClient(timeout=10) as client:
        answers = [
            await client.post(f"{url}/webhooks/shopify/kumo", content=order,
                              headers=shopify_headers(order, SECRETS["shopify"], "orders/create", "w-1")),
            await client.post(f"{url}/webhooks/shopify/kumo", content=order,
                              headers=shopify_headers(order, SECRETS["shopify_previous"], "orders/create", "w-2")),
            await client.post(f"{url}/webhooks/woocommerce/kumo", content=woo,
                              headers=woocommerce_headers(woo, SECRETS["woocommerce"], "order.created")),
            await client.post(f"{url}/webhooks/shopify/kumo", content=order,
                              headers=shopify_headers(order, "shpss_forged", "orders/create", "w-3")),
            await client.post(f"{url}/webhooks/esp/mailgun/kumo", json={"signature": {"token": "t"}}),
            await client.post(f"{url}/webhooks/line/kumo", content=b'{"events": []}',
                              headers={"X-Line-Signature": "forged"}),
        ]
        assert [a.status_code for a in answers[:4]] == [200, 200, 200, 401], [a.text for a in answers]
        await smtp_server.inbox.wait_for(1, 10.0)
        login = await client.get(f"{url}/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf
        await client.post(f"{url}/login", data={"csrf": csrf.group(1), "username": "owner",
                                                 "password": "afterorder-owner-pw-1"})
        pages = [await client.get(f"{url}/dashboard/kumo/{page}")
                 for page in ("flows", "messages", "customers", "templates", "segments", "tests", "retention")]
        assert [p.status_code for p in pages] == [200] * len(pages)
        assert "雲茶舗" in pages[0].text or "kumo" in pages[0].text
    mail = smtp_server.inbox.all()[0]
    assert mail.raw.startswith(b"DKIM-Signature:"), "signed with the sealed key"

    pem = await asyncio.to_thread(dkim_pem, sqlite_url, key)
    every = [*SECRETS.values(), *pem_lines(pem), key]
    said = log.read_text()
    assert "afterorder is serving" in said and "Traceback" not in said
    assert_nothing_shows(said, every, "serve's output and logs")
    assert_nothing_shows(printed, every, "what the commands printed")
    assert_nothing_shows(b"".join(a.content for a in answers), every, "the answers")
    assert_nothing_shows(b"".join(p.content for p in pages), every, "the dashboard's pages")
    assert_nothing_shows(await asyncio.to_thread(raw, sqlite_url), every[:-1], "the database")

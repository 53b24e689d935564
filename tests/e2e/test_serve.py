"""Against a real ``afterorder serve`` on loopback and a real SMTP server: what a customer receives."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterorder.dev.inbox import ReceivedMail
from afterorder.dev.smtp_server import DevSmtpServer
from tests.e2e.processes import add_store_cli, serve
from tests.factories import order_event


async def post(client: httpx.AsyncClient, url: str, key: str, event: dict[str, Any]) -> None:
    response = await client.post(f"{url}/api/v1/events", json=event, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text


async def advance(client: httpx.AsyncClient, url: str, days: float) -> datetime:
    response = await client.post(f"{url}/dev/clock/advance", json={"seconds": days * 86400})
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["now"])


def mail_to(smtp: DevSmtpServer, address: str) -> list[ReceivedMail]:
    return [m for m in smtp.inbox.all() if address in m.recipients]


async def wait_mail(smtp: DevSmtpServer, count: int, timeout: float) -> None:
    await smtp.inbox.wait_for(count, timeout)


@pytest.fixture
async def server(sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> Any:
    ja = add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY",
                       support_email="support@kumo.example", reply_to="support@kumo.example")
    en = add_store_cli(sqlite_url, "harbor", name="Harbor Goods", email_from="hello@harbor.example",
                       reply_to="help@harbor.example", support_email="help@harbor.example")
    async with serve(sqlite_url, smtp_server.url, "--dev-clock", log=tmp_path / "serve.log") as url:
        async with httpx.AsyncClient(timeout=10) as client:
            yield client, url, ja["api_key"], en["api_key"]


async def test_a_placed_order_is_confirmed_within_a_second_in_the_customers_language(
        server: Any, smtp_server: DevSmtpServer) -> None:
    client, url, ja_key, en_key = server
    now = datetime.now(UTC)
    started = time.monotonic()
    await post(client, url, ja_key, order_event("order.placed", "1001", now, email="taro@example.jp"))
    await wait_mail(smtp_server, 1, timeout=1.0)
    assert time.monotonic() - started < 1.0
    [mail] = mail_to(smtp_server, "taro@example.jp")
    assert "#1001" in mail.subject
    assert mail.html is not None and mail.text is not None
    assert "山田 太郎 様" in mail.text and "¥15,000" in mail.text and "京焼 急須" in mail.html
    assert "support@kumo.example" in mail.text

    await post(client, url, en_key, order_event("order.placed", "2002", now, locale="en", email="emma@example.com"))
    await wait_mail(smtp_server, 2, timeout=1.0)
    [english] = mail_to(smtp_server, "emma@example.com")
    assert "#2002" in english.subject and "$120.00" in (english.text or "") and "Emma" in (english.text or "")


async def test_shipping_then_delivery_then_three_days_later_the_follow_up(
        server: Any, smtp_server: DevSmtpServer) -> None:
    client, url, ja_key, _ = server
    now = datetime.now(UTC)
    await post(client, url, ja_key, order_event("order.placed", "3003", now, email="a@example.jp"))
    await post(client, url, ja_key, order_event("order.shipped", "3003", now, email="a@example.jp"))
    await wait_mail(smtp_server, 2, timeout=3)
    shipping = [m for m in mail_to(smtp_server, "a@example.jp") if "#3003" in m.subject and m.html and
                "1234-5678-9012" in m.html]
    assert shipping, "the shipping mail is there"
    links = re.findall(r'href="(http://127\.0\.0\.1:\d+/t/c/[^"]+)"', shipping[0].html or "")
    targets = [(await client.get(link, follow_redirects=False)).headers.get("location", "") for link in links]
    assert any(t.startswith("https://track.example/3003") for t in targets), \
        "the shipping mail links (through a signed click redirect) to the tracking page"
    assert "1234-5678-9012" in (shipping[0].text or "")

    day1 = await advance(client, url, 1)
    await post(client, url, ja_key, order_event("order.delivered", "3003", day1, email="a@example.jp"))
    await advance(client, url, 2.9)
    await asyncio.sleep(0.6)
    assert len(mail_to(smtp_server, "a@example.jp")) == 2, "no follow-up before three days after delivery"
    await advance(client, url, 0.2)
    await wait_mail(smtp_server, 3, timeout=3)
    assert len(mail_to(smtp_server, "a@example.jp")) == 3


async def test_a_refund_before_the_follow_up_stops_it(server: Any, smtp_server: DevSmtpServer) -> None:
    client, url, ja_key, _ = server
    now = datetime.now(UTC)
    await post(client, url, ja_key, order_event("order.shipped", "4004", now, email="b@example.jp"))
    await wait_mail(smtp_server, 1, timeout=3)
    day1 = await advance(client, url, 1)
    await post(client, url, ja_key, order_event("order.delivered", "4004", day1, email="b@example.jp"))
    day2 = await advance(client, url, 1)
    await post(client, url, ja_key, order_event("order.refunded", "4004", day2, email="b@example.jp"))
    await advance(client, url, 20)
    await asyncio.sleep(1.0)
    assert len(mail_to(smtp_server, "b@example.jp")) == 1, "only the shipping mail; no follow-up after the refund"
    runs = (await client.get(f"{url}/api/v1/runs", headers={"Authorization": f"Bearer {ja_key}"})).json()["runs"]
    follow = next(r for r in runs if r["flow_id"] == "delivery-follow-up")
    assert follow["status"] == "exited" and follow["outcome"] == "exit_on order.refunded"


async def test_the_dev_clock_is_refused_without_the_flag(sqlite_url: str, smtp_server: DevSmtpServer) -> None:
    async with serve(sqlite_url, smtp_server.url) as url, httpx.AsyncClient() as client:
        response = await client.post(f"{url}/dev/clock/advance", json={"seconds": 60})
    assert response.status_code == 403 and "--dev-clock" in response.json()["message"]

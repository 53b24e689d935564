"""The flow library (welcome, abandoned cart, back in stock, thank-you, second purchase, win-back,
cross-sell, VIP surprise) against a real ``afterorder serve --dev-clock`` and a real SMTP server: who gets
which mail when, and who does not (exits, re-entry).  One server runs every flow at once, as a store that
switched them all on would."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from afterorder.dev.inbox import ReceivedMail
from afterorder.dev.smtp_server import DevSmtpServer
from tests.e2e.processes import add_store_cli, cli, serve

FLOWS = ("welcome", "abandoned-cart", "back-in-stock", "thank-you", "second-purchase", "win-back", "cross-sell",
         "vip-surprise")
HOUR = 3600.0
DAY = 86400.0


class Shop:
    def __init__(self, client: httpx.AsyncClient, url: str, key: str, smtp: DevSmtpServer) -> None:
        self.client, self.url, self.key, self.smtp = client, url, key, smtp
        self.now = datetime.now(UTC)
        self._n = 0

    async def post(self, *events: dict[str, Any]) -> None:
        response = await self.client.post(f"{self.url}/api/v1/events", json={"events": list(events)},
                                          headers={"Authorization": f"Bearer {self.key}"})
        assert response.status_code == 200, response.text

    def event(self, kind: str, customer: str, **body: Any) -> dict[str, Any]:
        self._n += 1
        return {"id": f"e{self._n}", "type": kind, "occurred_at": self.now.isoformat(),
                "customer": {"id": customer, "email": f"{customer}@example.jp", "first_name": "花子",
                             "last_name": customer.capitalize(), "locale": "ja", "accepts_marketing": True},
                **body}

    def order(self, kind: str, customer: str, order_id: str, lines: list[tuple[str, str, int]],
              **body: Any) -> dict[str, Any]:
        return self.event(kind, customer, order={
            "id": order_id, "number": f"#{order_id}", "currency": "JPY",
            "total": sum(price for _, _, price in lines), "subtotal": sum(price for _, _, price in lines),
            "lines": [{"product_id": pid, "title": title, "quantity": 1, "price": price, "category": "green-tea",
                       "image_url": f"https://cdn.kumo.example/{pid}.jpg"} for pid, title, price in lines]}, **body)

    def product(self, kind: str, pid: str, title: str, category: str, price: int, *, image: bool = True,
                in_stock: bool = True) -> dict[str, Any]:
        self._n += 1
        return {"id": f"e{self._n}", "type": kind, "occurred_at": self.now.isoformat(),
                "product": {"id": pid, "title": title, "category": category, "price": price, "currency": "JPY",
                            "url": f"https://kumo.example/p/{pid}", "in_stock": in_stock,
                            "image_url": f"https://cdn.kumo.example/{pid}.jpg" if image else None}}

    async def advance(self, seconds: float) -> None:
        response = await self.client.post(f"{self.url}/dev/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        self.now = datetime.fromisoformat(response.json()["now"])

    async def mails(self) -> list[tuple[str, str, ReceivedMail]]:
        """(recipient's name, template, mail) for every mail the SMTP server received."""
        response = await self.client.get(f"{self.url}/api/v1/outbox", params={"limit": 1000},
                                         headers={"Authorization": f"Bearer {self.key}"})
        templates = {m["message_id"]: m["template"] for m in response.json()["messages"]}
        return [(r.split("@")[0], templates.get(m.message_id or "", "?"), m) for m in self.smtp.inbox.all()
                for r in m.recipients]

    async def got(self, who: str, template: str) -> list[ReceivedMail]:
        return [m for name, t, m in await self.mails() if name == who and t == template]

    async def wait(self, who: str, template: str, count: int = 1, timeout: float = 8) -> ReceivedMail:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await self.got(who, template)
            if len(found) >= count:
                return found[-1]
            await asyncio.sleep(0.1)
        got = sorted((n, t) for n, t, _ in await self.mails())
        raise AssertionError(f"{who} did not get {template} (x{count}); got {got}")

    async def settle(self) -> None:
        """Give the server's loops (0.2 s polls) time to do anything that is due."""
        await asyncio.sleep(1.2)


async def test_the_flow_library_end_to_end(sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    store = add_store_cli(sqlite_url, "kumo", name="雲茶舗", country="JP", locale="ja", timezone="Asia/Tokyo",
                          currency="JPY", support_email="support@kumo.example", reply_to="support@kumo.example")
    for flow in FLOWS:
        cli("flows", "enable", flow, "--store", "kumo", database=sqlite_url)
    async with serve(sqlite_url, smtp_server.url, "--dev-clock", log=tmp_path / "serve.log") as url:
        async with httpx.AsyncClient(timeout=10) as client:
            shop = Shop(client, url, store["api_key"], smtp_server)
            await _run(shop, sqlite_url)


async def _run(shop: Shop, database: str) -> None:
    # The catalog, and orders that make kyusu the tea pot people buy with sencha.
    await shop.post(
        shop.product("product.updated", "p-sencha", "煎茶 缶", "green-tea", 2400),
        shop.product("product.updated", "p-kyusu", "常滑焼 急須", "teaware", 6800),
        shop.product("product.updated", "p-gyokuro", "玉露 極", "green-tea", 4200),
        shop.product("product.updated", "p-hojicha", "ほうじ茶", "green-tea", 1800),
        shop.product("product.updated", "p-soldout", "限定 抹茶", "green-tea", 5000, in_stock=False),
        shop.product("product.updated", "p-noimage", "番茶", "green-tea", 900, image=False),
        shop.product("product.updated", "p-matcha", "抹茶 スターター", "matcha", 5400, in_stock=False),
    )
    sencha, kyusu = ("p-sencha", "煎茶 缶", 2400), ("p-kyusu", "常滑焼 急須", 6800)
    await shop.post(shop.order("order.placed", "pat", "P1", [sencha, kyusu]),
                    shop.order("order.placed", "quinn", "P2", [sencha, kyusu]),
                    shop.order("order.placed", "rio", "P3", [kyusu]))

    # welcome: a new customer gets a unique coupon at once
    await shop.post(shop.event("customer.created", "aoi"))
    welcome = await shop.wait("aoi", "welcome")
    code = re.findall(r"WELCOME-[A-Z2-9]{8}", welcome.text or "")[0]
    assert "ご登録ありがとうございます" in welcome.subject and "10% OFF" in (welcome.text or "")

    # thank-you / second-purchase / win-back start with aoi's first order (with loyalty points); the
    # others: fumi (one order, never again), gen (will be delivered), hana (a VIP order)
    await shop.post(shop.order("order.placed", "aoi", "A1", [("p1", "京焼 湯呑み", 3000)],
                               properties={"points": 480}),
                    shop.order("order.placed", "fumi", "F1", [("p2", "有田焼 皿", 3000)]),
                    shop.order("order.placed", "gen", "G1", [sencha]))
    await shop.post(shop.order("order.placed", "hana", "H1", [("p9", "鉄瓶 特選", 500000)]))

    # abandoned cart: bo leaves a cart (updated twice: one run), cho completes hers
    checkout = {"id": "c-1", "url": "https://kumo.example/checkout/c-1", "currency": "JPY",
                "lines": [{"product_id": "p-gyokuro", "title": "玉露 極", "quantity": 1, "price": 4200}]}
    await shop.post(shop.event("checkout.updated", "bo", checkout=checkout),
                    shop.event("checkout.updated", "cho", checkout={**checkout, "id": "c-2"}))
    await shop.post(shop.event("checkout.updated", "bo", checkout=checkout))

    # back in stock: two shoppers ask, one of them twice; the product comes back
    for email in ("dai@example.jp", "eri@example.jp", "eri@example.jp"):
        answer = await shop.client.post(f"{shop.url}/public/kumo/back-in-stock",
                                        json={"email": email, "product_id": "p-matcha", "locale": "ja"})
        assert answer.status_code in (200, 201), answer.text
        assert answer.json()["receipt"]
    assert answer.json()["status"] == "already_subscribed"
    bad = await shop.client.post(f"{shop.url}/public/kumo/back-in-stock", json={"email": "nope", "product_id": "x"})
    assert bad.status_code == 422 and "email" in bad.json()["message"]
    await shop.post(shop.product("product.restocked", "p-matcha", "抹茶 スターター", "matcha", 5400))
    for who in ("dai", "eri"):
        notice = await shop.wait(who, "back-in-stock")
        assert "再入荷" in notice.subject and "抹茶 スターター" in notice.subject
    await shop.advance(10 * 60)
    await shop.post(shop.event("checkout.completed", "cho", checkout={**checkout, "id": "c-2"}))
    await shop.post(shop.product("product.restocked", "p-matcha", "抹茶 スターター", "matcha", 5400))

    await shop.advance(40 * 60)  # 50 min: no reminder yet
    await shop.settle()
    assert not await shop.got("bo", "abandoned-cart")
    assert len(await shop.got("eri", "back-in-stock")) == 1, "told once, though she asked twice and it restocked twice"
    await shop.advance(15 * 60)  # 1 h 05
    reminder = await shop.wait("bo", "abandoned-cart")
    assert "玉露 極" in (reminder.text or "") and "https://kumo.example/checkout/c-1" in (reminder.text or "") + (
        reminder.html or "")
    await shop.settle()
    assert len(await shop.got("bo", "abandoned-cart")) == 1, "one run per checkout, however often it is updated"
    assert not await shop.got("cho", "abandoned-cart"), "a completed checkout gets no reminder"
    assert not await shop.got("aoi", "thank-you")

    await shop.advance(2 * HOUR)  # 3 h 05: the thank-you for first orders
    thanks = await shop.wait("aoi", "thank-you")
    assert "480" in (thanks.text or "") and "初めてのご注文" in thanks.subject
    await shop.wait("fumi", "thank-you")
    await shop.advance(21.2 * HOUR)  # 24 h 17
    last = await shop.wait("bo", "abandoned-cart-last")
    assert "最終" in last.subject
    assert not await shop.got("cho", "abandoned-cart-last")

    await shop.post(shop.order("order.delivered", "gen", "G1", [sencha]))
    await shop.advance(1 * DAY)  # day 2: hana, a VIP since her order, gets her surprise
    vip = await shop.wait("hana", "vip-surprise")
    assert "GIFT-" in (vip.text or "") and "20% OFF" in (vip.text or "")
    await shop.settle()
    assert not await shop.got("fumi", "vip-surprise"), "not a VIP"

    await shop.advance(6.5 * DAY)  # day 8.5: a week after gen's delivery
    cross = await shop.wait("gen", "cross-sell")
    body = cross.html or ""
    assert "常滑焼 急須" in body and "玉露 極" in body and "ほうじ茶" in body
    assert "煎茶 缶" not in (cross.text or ""), "never what the customer bought"
    assert "限定 抹茶" not in body and "番茶" not in body, "never sold out, never without an image"
    await shop.wait("aoi", "thank-you-feedback")

    # day 10: aoi orders again with her welcome coupon: it is used up; no second thank-you
    await shop.advance(1.5 * DAY)
    await shop.post(shop.order("order.placed", "aoi", "A2", [("p1", "京焼 湯呑み", 3000)],
                               properties={"coupon": code}))
    await shop.settle()
    with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
        redeemed = db.execute("SELECT redeemed_at FROM coupons WHERE code = ?", (code,)).fetchone()
    assert redeemed is not None and redeemed[0] is not None, "the coupon is marked used by the order"
    assert len(await shop.got("aoi", "thank-you")) == 1

    await shop.advance(20.5 * DAY)  # day 30.5: fumi never came back; aoi did
    push = await shop.wait("fumi", "second-purchase")
    assert "AGAIN-" in (push.text or "")
    await shop.settle()
    assert not await shop.got("aoi", "second-purchase"), "she ordered again: the push ended"

    await shop.advance(91 * DAY)  # day 121.5: 120 days without an order (no prediction)
    back = await shop.wait("fumi", "win-back")
    assert "COMEBACK-" in (back.text or "") and "15% OFF" in (back.text or "")
    await shop.settle()
    assert not await shop.got("aoi", "win-back"), "her clock restarted with her order on day 10"
    await shop.advance(9 * DAY)  # day 130.5: 120 days after aoi's second order
    await shop.wait("aoi", "win-back")
    assert len(await shop.got("fumi", "win-back")) == 1
    assert len(await shop.got("bo", "abandoned-cart")) == 1 and len(await shop.got("dai", "back-in-stock")) == 1

    # preview and test send through the admin API
    headers = {"Authorization": f"Bearer {shop.key}"}
    preview = await shop.client.get(f"{shop.url}/api/v1/flows/welcome/steps/1/preview", params={"locale": "zh-Hans"},
                                    headers=headers)
    assert preview.status_code == 200 and "欢迎" in preview.json()["subject"] and "WELCOME-" in preview.json()["text"]
    missing = await shop.client.get(f"{shop.url}/api/v1/flows/welcome/steps/9/preview", headers=headers)
    assert missing.status_code == 404 and "1 message" in missing.json()["message"]
    sent = await shop.client.post(f"{shop.url}/api/v1/flows/abandoned-cart/steps/2/send-test",
                                  json={"to": "owner@kumo.example", "locale": "en"}, headers=headers)
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 5
    while not [m for m in shop.smtp.inbox.all() if "owner@kumo.example" in m.recipients]:
        assert time.monotonic() < deadline, "the test mail did not arrive"
        await asyncio.sleep(0.1)
    [test_mail] = [m for m in shop.smtp.inbox.all() if "owner@kumo.example" in m.recipients]
    assert test_mail.subject.startswith("[TEST] ") and "cart" in test_mail.subject


async def test_preview_and_send_test_from_the_command_line(sqlite_url: str, smtp_server: DevSmtpServer,
                                                            tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    out = tmp_path / "preview"
    result = cli("preview", "cross-sell/1", "--store", "kumo", "--locale", "ja", "--out", str(out),
                 database=sqlite_url)
    assert "wrote" in result.stdout
    html = (out / "cross-sell-1-ja.html").read_text(encoding="utf-8")
    text = (out / "cross-sell-1-ja.txt").read_text(encoding="utf-8")
    assert "<html" in html and "雲茶舗" in text and "Subject: 【雲茶舗】" in text
    bad = cli("preview", "cross-sell", "--store", "kumo", database=sqlite_url, check=False)
    assert bad.returncode != 0 and "FLOW/STEP" in bad.stderr
    sent = await asyncio.to_thread(cli, "send-test", "welcome/1", "--store", "kumo", "--locale", "en", "--to",
                                   "me@kumo.example", "--smtp", smtp_server.url, database=sqlite_url)
    assert "sent welcome/1" in sent.stdout
    [mail] = await smtp_server.inbox.wait_for(1, 5)
    assert mail.subject == "[TEST] Jane, welcome to 雲茶舗" and "WELCOME-" in (mail.text or "")
    pool = tmp_path / "codes.csv"
    pool.write_text("code\nSPRING-AAA1\nSPRING-AAA2\nSPRING-AAA1\n", encoding="utf-8")
    imported = cli("coupon", "import", "spring", str(pool), "--store", "kumo", "--percent", "15", database=sqlite_url)
    assert '"added": 2' in imported.stdout and '"unused": 2' in imported.stdout
    pool.write_text("code\nbad code!\n", encoding="utf-8")
    refused = cli("coupon", "import", "spring", str(pool), "--store", "kumo", database=sqlite_url, check=False)
    assert refused.returncode != 0 and "line 2" in refused.stderr


"""The customer's order page over real HTTP (uvicorn on loopback): reached from the order mail, it
shows the order and follows it as events arrive; any wrong, expired, foreign or revoked link gets the
same polite 404 with nothing of the order; the store revokes links and asks for one through the API."""

from __future__ import annotations

import re
from typing import Any

import httpx

from afterorder.clock import FrozenClock
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.order_page.links import VALID_DAYS
from afterorder.runtime import Runtime
from tests.compliance_helpers import delivery, ingest, parts, received
from tests.conftest import T0
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running
from tests.integration.test_unsubscribe_http import serving

LINK = re.compile(r"https?://[^/\s]+(/o/[^/\s]+/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


async def _mail_link(runtime: Runtime, smtp_server: DevSmtpServer, store: Any, event: dict[str, Any]) -> str:
    """Send the event's order mail; the order page's path from its text and HTML parts (the same)."""
    await ingest(runtime, store, event)
    await delivery(runtime, smtp_server).run_due()
    text, html = parts(received(smtp_server)[-1])
    in_text, in_html = LINK.search(text), LINK.search(html)
    assert in_text is not None and in_html is not None, text
    assert in_text.group(1) == in_html.group(1)
    return in_text.group(1)


def _kumo_event(kind: str, order_id: str, at: Any) -> dict[str, Any]:
    event = order_event(kind, order_id, at)
    event["order"]["lines"][0]["url"] = "https://kumo.example/p/kyusu"
    return event


def _steps(status: dict[str, Any]) -> list[str]:
    return [s["key"] for s in status["steps"] if s["done"]]


async def test_the_order_mail_links_to_a_page_that_follows_the_order(database_url: str,
                                                                      smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        placed = _kumo_event("order.placed", "A1", clock.now())
        placed["order"]["shipping_address"] = {"name": "山田 太郎", "postal_code": "150-0041", "region": "東京都",
                                               "city": "渋谷区", "line1": "神南1-2-3", "line2": "雲ビル 5F",
                                               "country": "JP"}
        path = await _mail_link(runtime, smtp_server, store, placed)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            page = await http.get(path)
            assert page.status_code == 200
            assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
            assert "script-src 'self';" in page.headers["content-security-policy"]
            html = page.text
            assert '<html lang="ja">' in html and "雲茶舗" in html and "#A1" in html
            assert "京焼 急須" in html and "https://cdn.example/p1.jpg" in html and "¥15,000" in html
            assert '<a class="again" href="https://kumo.example/p/kyusu"' in html  # buy again
            assert '<section id="next" hidden>' in html  # "write a review" waits for the delivery
            assert "support@kumo.example" in html and "/static/order-page.js" in html
            assert "〒150-****" in html and "東京都渋谷区神南＊＊＊" in html and "山＊＊＊ 様" in html
            for secret in ("0041", "1-2-3", "雲ビル", "太郎", "A1@example.com"):
                assert secret not in html, secret
            assert "<script>" not in html  # the Content-Security-Policy allows no inline script

            status = (await http.get(f"{path}.json")).json()
            assert _steps(status) == ["placed"] and status["tracking_url"] is None
            assert status["steps"][0]["time"] == "2026年11月22日 10:00"  # the customer's Tokyo time

            clock.advance(3600)
            shipped = _kumo_event("order.shipped", "A1", clock.now())
            shipped["shipment"].pop("tracking_url")  # the carrier's own page is found from its name
            await ingest(runtime, store, shipped)
            status = (await http.get(f"{path}.json")).json()
            assert _steps(status) == ["placed", "paid", "shipped"]
            assert status["carrier"] == "ヤマト運輸" and status["tracking_number"] == "1234-5678-9012"
            assert status["tracking_url"] == "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number01=123456789012"
            assert status["expected"] == "2026年11月24日"

            clock.advance(2 * 86400)
            await ingest(runtime, store, _kumo_event("order.delivered", "A1", clock.now()))
            status = (await http.get(f"{path}.json")).json()
            assert _steps(status) == ["placed", "paid", "shipped", "out_for_delivery", "delivered"]
            assert [s["key"] for s in status["steps"] if s["current"]] == ["delivered"]
            delivered = (await http.get(path)).text
            assert '<section id="next">' in delivered
            assert '<a class="button" href="https://kumo.example/p/kyusu" rel="noopener">レビューを書く' in delivered


async def test_an_unknown_carrier_shows_the_number_without_a_link(sqlite_url: str,
                                                                  smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    async with running(sqlite_url, clock) as runtime:
        store, _ = await add_store(runtime, US_STORE)
        path = await _mail_link(runtime, smtp_server, store, order_event("order.placed", "B1", clock.now(),
                                                                         locale="en"))
        shipped = order_event("order.shipped", "B1", clock.now(), locale="en")
        shipped["shipment"] = {"carrier": "Kangaroo Couriers", "tracking_number": "KC-778"}
        await ingest(runtime, store, shipped)
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            status = (await http.get(f"{path}.json")).json()
            page = (await http.get(path)).text
        assert status["carrier"] == "Kangaroo Couriers" and status["tracking_number"] == "KC-778"
        assert status["tracking_url"] is None
        assert "KC-778" in page and 'id="track" href="#"' in page and "hidden>Track your parcel" in page


async def test_wrong_expired_foreign_and_revoked_links_all_get_the_same_polite_404(
        database_url: str, smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, api_key = await add_store(runtime)
        other, _ = await add_store(runtime, {**US_STORE, "support_email": "help@harbor.example"})
        path = await _mail_link(runtime, smtp_server, store, order_event("order.placed", "C1", clock.now()))
        _, _, slug, token = path.split("/")
        body, mac = token.split(".")
        flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
        wrong = [f"/o/{slug}/{body}.{flipped}", f"/o/{slug}/{body}", f"/o/{slug}/{token[:-4]}",
                 f"/o/{other.slug}/{token}", f"/o/nosuchstore/{token}", f"/o/{slug}/x.y"]
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            assert (await http.get(path)).status_code == 200
            answers = [await http.get(p, headers={"Accept-Language": "ja"}) for p in wrong]
            assert {a.status_code for a in answers} == {404}
            assert len({a.text for a in answers}) == 1, "every refusal is the same page"
            assert "このリンクはご利用いただけません" in answers[0].text
            for secret in ("#C1", "京焼", "雲茶舗", "support@kumo"):
                assert secret not in answers[0].text
            assert {(await http.get(f"{p}.json")).status_code for p in wrong} == {404}

            clock.advance((VALID_DAYS + 1) * 86400)  # expired
            expired = await http.get(path, headers={"Accept-Language": "ja"})
            assert expired.status_code == 404 and expired.text == answers[0].text
            clock.advance(-(VALID_DAYS + 1) * 86400)

            auth = {"Authorization": f"Bearer {api_key}"}
            fresh = await http.get("/api/v1/orders/C1/order-page", headers=auth)
            assert fresh.status_code == 200 and fresh.json()["url"].endswith(path)
            revoked = await http.post("/api/v1/orders/C1/order-page/revoke", headers=auth)
            assert revoked.status_code == 200 and revoked.json()["page_version"] == 1
            gone = await http.get(path, headers={"Accept-Language": "ja"})
            assert gone.status_code == 404 and gone.text == answers[0].text
            new = (await http.get("/api/v1/orders/C1/order-page", headers=auth)).json()["url"]
            assert new != fresh.json()["url"]
            assert (await http.get(httpx.URL(new).path)).status_code == 200

            unknown = await http.post("/api/v1/orders/NOPE/order-page/revoke", headers=auth)
            assert unknown.status_code == 404 and unknown.json()["details"][0]["field"] == "order_id"
            assert (await http.post("/api/v1/orders/C1/order-page/revoke")).status_code == 401


async def test_later_messages_carry_a_link_that_works_after_a_revocation(sqlite_url: str,
                                                                         smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    async with running(sqlite_url, clock) as runtime:
        store, api_key = await add_store(runtime, JP_STORE)
        first = await _mail_link(runtime, smtp_server, store, order_event("order.placed", "D1", clock.now()))
        async with serving(runtime) as base, httpx.AsyncClient(base_url=base) as http:
            await http.post("/api/v1/orders/D1/order-page/revoke", headers={"Authorization": f"Bearer {api_key}"})
            clock.advance(3600)
            second = await _mail_link(runtime, smtp_server, store, order_event("order.shipped", "D1", clock.now()))
            assert (await http.get(first)).status_code == 404
            assert (await http.get(second)).status_code == 200

"""Order-timed flows of the library (replenishment, made-to-order, international) and the first-time vs
repeat confirmation, against a real ``afterorder serve --dev-clock`` and a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterorder.dev.smtp_server import DevSmtpServer
from tests.e2e.library_helpers import Store, enable_flows, links, target_of, ten_am_weekday
from tests.e2e.processes import add_store_cli, serve
from tests.factories import order_event

FLOWS = ("replenishment", "made-to-order", "international")
GYOKURO = {"product_id": "gyokuro", "title": "Gyokuro 100g", "quantity": 1, "price": 3000, "category": "tea",
           "image_url": "https://cdn.example/gyokuro.jpg", "url": "https://kumo.example/p/gyokuro"}


def order(kind: str, number: str, at: datetime, email: str, *, country: str = "JP", **extra: Any) -> dict[str, Any]:
    event = order_event(kind, number, at, email=email, locale="en", **extra)
    event["customer"].update(id=email, accepts_marketing=True)
    event["order"]["lines"] = [GYOKURO]
    event["order"]["shipping_address"] = {"name": "Customer", "city": "Somewhere", "country": country}
    return event


@pytest.fixture
async def store(sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> Any:
    created = add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY",
                            support_email="support@kumo.example", reply_to="support@kumo.example")
    await enable_flows(sqlite_url, "kumo", FLOWS)
    async with serve(sqlite_url, smtp_server.url, "--dev-clock", log=tmp_path / "serve.log") as url:
        async with httpx.AsyncClient(timeout=10) as client:
            yield Store(client, url, created["api_key"], smtp_server, datetime.now(UTC))


async def test_replenishment_made_to_order_international_and_repeat_buyers(store: Store) -> None:
    shop = store
    t0 = shop.now
    rin, sora, mina, hans = "rin@example.com", "sora@example.com", "mina@example.com", "hans@example.de"
    await shop.post({"id": "catalog:gyokuro", "type": "product.updated", "occurred_at": t0.isoformat(),
                     "product": {"id": "gyokuro", "title": "Gyokuro 100g", "category": "tea", "replenish_days": 30}})
    await shop.post(order("order.placed", "6001", t0, rin))
    await shop.post(order("order.placed", "6002", t0, sora))
    ships_on = (t0 + timedelta(days=40)).astimezone(ten_am_weekday(t0).tzinfo).date()
    await shop.post(order("order.placed", "6101", t0, mina, properties={"expected_ship_date": ships_on.isoformat()}))
    await shop.post(order("order.placed", "6201", t0, hans, country="DE"))
    await shop.post(order("order.shipped", "6001", t0, rin))
    await shop.post(order("order.shipped", "6201", t0, hans, country="DE"))

    # at once: a first-time buyer is welcomed; a made-to-order order says when it will ship
    first = await shop.expect(sora, "Order #6002 confirmed")
    assert "Welcome to the" in (first.text or "") and "Welcome back" not in (first.text or "")
    made = await shop.expect(mina, "is being made for you")
    assert f"{ships_on.year}" in (made.text or "") and "every couple of weeks" in (made.text or "")
    assert not shop.mails(rin, "being made"), "an order without a ship date is not made to order"
    await shop.advance_to(t0 + timedelta(days=1))
    await shop.post(order("order.delivered", "6001", shop.now, rin))
    await shop.post(order("order.delivered", "6002", shop.now, sora))

    # international: a week after shipping, at 10:00 on a weekday, "still on its way" with live tracking
    transit_at = ten_am_weekday(t0 + timedelta(days=7))
    await shop.advance_to(transit_at - timedelta(minutes=1))
    await shop.settle(0.5)
    assert not shop.mails(hans, "still on its way")
    await shop.advance_to(transit_at + timedelta(minutes=1))
    transit = await shop.expect(hans, "still on its way")
    assert "https://track.example/6201" in [await target_of(shop, u) for u in links(transit)]
    assert "https://track.example/6201" in (transit.text or "")
    assert not shop.mails(rin, "still on its way"), "a domestic order gets no international mail"

    # a repeat order ends the replenishment run of the first one, and is greeted as a repeat
    await shop.advance_to(t0 + timedelta(days=10))
    await shop.post(order("order.placed", "6003", shop.now, sora))
    repeat = await shop.expect(sora, "Order #6003 confirmed")
    assert "Welcome back" in (repeat.text or "") and "Welcome to the" not in (repeat.text or "")
    await shop.advance_to(t0 + timedelta(days=11))
    await shop.post(order("order.delivered", "6003", shop.now, sora))
    await shop.advance_to(t0 + timedelta(days=12))
    await shop.post(order("order.delivered", "6201", shop.now, hans, country="DE"))
    delivered_abroad = shop.now
    runs = await shop.runs("replenishment")
    assert sorted(r["status"] for r in runs) == ["exited", "waiting", "waiting", "waiting"], \
        "Sora's first run ended; Rin's, Hans's and Sora's second order's wait"
    assert sum(1 for r in runs if r["outcome"] == "exit_on order.placed") == 1

    # made-to-order: a progress update two weeks on, at 10:00 on a weekday
    await shop.advance_to(ten_am_weekday(t0 + timedelta(days=14)) + timedelta(minutes=1))
    progress = await shop.expect(mina, "Progress on your order #6101")
    assert "on track to ship" in (progress.text or "")

    # the delivery follow-up of an order shipped abroad waits five days, not three
    await shop.advance_to(delivered_abroad + timedelta(days=3, hours=1))
    await shop.settle(0.5)
    assert not shop.mails(hans, "Did everything arrive"), "not three days after an international delivery"
    await shop.advance_to(delivered_abroad + timedelta(days=5, minutes=1))
    await shop.expect(hans, "Did everything arrive")

    await shop.advance_to(t0 + timedelta(days=20))
    await shop.post(order("order.shipped", "6101", shop.now, mina))

    # replenishment: three days before 30 days from the order, at 10:00 on a weekday
    due = ten_am_weekday(t0 + timedelta(days=27))
    await shop.advance_to(due - timedelta(minutes=1))
    await shop.settle(0.5)
    assert not shop.mails(rin, "Running low")
    await shop.advance_to(due + timedelta(minutes=1))
    reminder = await shop.expect(rin, "Running low")
    assert "Gyokuro 100g" in (reminder.text or "")
    await shop.settle(0.5)
    assert not shop.mails(sora, "Running low"), "Sora reordered: the first order's reminder is gone"

    # the second order of Sora gets its own reminder, 30 days after it
    await shop.advance_to(ten_am_weekday(t0 + timedelta(days=37)) + timedelta(minutes=1))
    await shop.expect(sora, "Running low")
    await shop.advance_to(shop.now + timedelta(days=10))
    await shop.settle()
    assert len(shop.mails(mina, "Progress on your order")) == 1, "no progress updates once it shipped"
    assert len(shop.mails(hans, "still on its way")) == 1, "no second in-transit mail after the delivery"
    assert len(shop.mails(rin, "Running low")) == 1 and len(shop.mails(sora, "Running low")) == 1

"""What the order page shows: the timeline's steps (times in the customer's zone; "out for
delivery" at the time the carrier gave, else on the expected day) and the shipping address cut short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from afterorder.order_page.text import order_text
from afterorder.order_page.view import masked_address, timeline

TOKYO = ZoneInfo("Asia/Tokyo")


def _order(status: str, placed: datetime, **times: datetime | None) -> SimpleNamespace:
    return SimpleNamespace(status=status, placed_at=placed, paid_at=times.get("paid"),
                           shipped_at=times.get("shipped"), out_for_delivery_at=times.get("out"),
                           delivered_at=times.get("delivered"))


def _shown(order: SimpleNamespace, expected: datetime | None, now: datetime) -> tuple[list[str], str]:
    steps = timeline(order, expected, now, "ja", TOKYO, order_text("ja", number="1"))
    return [s.key for s in steps if s.done], next(s.key for s in steps if s.current)


def test_the_timeline_follows_the_order() -> None:
    now = datetime.now(UTC)
    placed = now - timedelta(days=3)
    assert _shown(_order("placed", placed), None, now) == (["placed"], "placed")
    assert _shown(_order("paid", placed, paid=placed), None, now) == (["placed", "paid"], "paid")
    shipped = _order("shipped", placed, shipped=now - timedelta(days=1))
    assert _shown(shipped, now + timedelta(days=1), now) == (["placed", "paid", "shipped"], "shipped")
    # on the expected day (in Tokyo) the parcel is out for delivery
    assert _shown(shipped, now, now) == (["placed", "paid", "shipped", "out_for_delivery"], "out_for_delivery")
    delivered = _order("delivered", placed, shipped=placed, delivered=now)
    assert _shown(delivered, None, now)[1] == "delivered"


def test_out_for_delivery_shows_the_carrier_s_time() -> None:
    now = datetime.now(UTC)
    placed = now - timedelta(days=3)
    out = now - timedelta(hours=2)
    # the carrier said so before the expected day: the step is reached, with its time in Tokyo
    order = _order("shipped", placed, shipped=now - timedelta(days=1), out=out)
    steps = timeline(order, now + timedelta(days=2), now, "ja", TOKYO, order_text("ja", number="1"))
    step = next(s for s in steps if s.key == "out_for_delivery")
    assert step.done and step.current
    local = out.astimezone(TOKYO)
    assert step.time == f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    # without the carrier's word the step waits for the expected day, with no time
    waiting = _order("shipped", placed, shipped=now - timedelta(days=1))
    steps = timeline(waiting, now + timedelta(days=2), now, "ja", TOKYO, order_text("ja", number="1"))
    assert not next(s for s in steps if s.key == "out_for_delivery").done


def test_times_are_the_customer_s() -> None:
    placed = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 01:30 the next day in Tokyo
    steps = timeline(_order("placed", placed), None, placed, "ja", TOKYO, order_text("ja", number="1"))
    assert steps[0].time == "2026年11月23日 01:30" and steps[1].time == ""


def test_the_address_is_cut_short() -> None:
    lines = masked_address({"name": "Emma Smith", "company": "Acme", "line1": "500 Market St", "line2": "Apt 9",
                            "city": "San Francisco", "region": "CA", "postal_code": "94105", "country": "US",
                            "phone": "+1 415 555 0100"}, "en")
    shown = "\n".join(lines)
    assert "San Francisco, CA 941**" in shown and "United States" in shown
    for secret in ("Smith", "Acme", "500 Market", "Apt 9", "555"):
        assert secret not in shown
    assert masked_address(None, "en") == ()

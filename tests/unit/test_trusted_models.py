"""Models built from validated values (history/trusted.py) are the instances ``model_construct`` builds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from afterorder.domain import CustomerIn, Event, EventType, OrderIn, ShipmentIn
from afterorder.history.trusted import Trusted

AT = datetime(2019, 1, 1, 9, 30, tzinfo=UTC)


def test_an_event_is_what_model_construct_builds() -> None:
    order = OrderIn(id="1001", number="#1001", currency="JPY", total=Decimal("3700"),
                    lines=[{"title": "Tea", "quantity": 2, "price": Decimal("1450")}])
    parts = {"id": "import:order:1001:placed", "type": EventType.ORDER_PLACED, "occurred_at": AT,
             "customer": CustomerIn(email="a@example.jp"), "order": order}
    fast, slow = Trusted(Event)(**parts), Event.model_construct(**parts)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set == set(parts)
    assert fast.model_dump_json() == slow.model_dump_json()
    assert repr(fast) == repr(slow)


def test_defaults_are_fresh_per_instance() -> None:
    build = Trusted(Event)
    one = build(id="a", type=EventType.ORDER_PAID, occurred_at=AT, order=Trusted(OrderIn)(id="1"))
    two = build(id="b", type=EventType.ORDER_PAID, occurred_at=AT, order=Trusted(OrderIn)(id="2"))
    one.properties["coupon"] = "TEN"
    assert two.properties == {}
    assert one.order is not None and two.order is not None
    one.order.lines.append(two.order)  # type: ignore[arg-type]
    assert two.order.lines == []
    assert two.order.model_fields_set == {"id"}


def test_missing_and_unknown_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="missing occurred_at"):
        Trusted(Event)(id="a", type=EventType.ORDER_PAID)
    with pytest.raises(TypeError, match="no field carrier_name"):
        Trusted(ShipmentIn)(carrier_name="Yamato")

"""The event model names what is missing or wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from afterorder.domain import Event


def test_product_and_checkout_events_need_their_object() -> None:
    with pytest.raises(ValidationError, match="needs a 'product' object"):
        Event.model_validate({"id": "e1", "type": "product.restocked", "occurred_at": "2026-11-22T10:00:00+09:00"})
    with pytest.raises(ValidationError, match="needs a 'checkout' object"):
        Event.model_validate({"id": "e2", "type": "checkout.updated", "occurred_at": "2026-11-22T10:00:00+09:00"})


def test_a_cart_and_a_refund_are_read_as_sent() -> None:
    event = Event.model_validate({
        "id": "e3", "type": "checkout.updated", "occurred_at": "2026-11-22T10:00:00+09:00",
        "checkout": {"id": "c1", "url": "https://shop.example/cart/c1", "currency": "JPY", "total": "3300",
                     "lines": [{"title": "抹茶", "quantity": 2, "price": "1650"}]},
        "refund": {"amount": "1650", "lines": [{"sku": "M-1", "quantity": 1}]},
    })
    assert event.checkout is not None and event.checkout.lines[0].title == "抹茶"
    assert event.refund is not None and str(event.refund.amount) == "1650"
    with pytest.raises(ValidationError, match=r"product\.replenish_days"):
        Event.model_validate({"id": "e4", "type": "product.updated", "occurred_at": "2026-11-22T10:00:00+09:00",
                              "product": {"id": "p1", "replenish_days": 0}})

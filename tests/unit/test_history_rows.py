"""Events prepared for a history batch (db/history_rows.py): plain values that stand for the model,
an order joining a known customer, and what keeps its model."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from typing import Any

from afterorder.db.history_rows import prepare
from afterorder.domain import Event

AT = datetime(2019, 3, 4, 1, 15, tzinfo=UTC)


def placed(customer: dict[str, Any], **extra: Any) -> Event:
    return Event.model_validate({
        "id": "import:order:1001:placed", "type": "order.placed", "occurred_at": AT.isoformat(),
        "customer": customer, **extra,
        "order": {"id": "1001", "number": "#1001", "currency": "JPY", "total": 17300,
                  "lines": [{"title": "京焼 急須", "quantity": 1, "price": 15000, "sku": "KYU"}],
                  "shipping_address": {"name": "山田 太郎", "country": "JP"}}})


def test_an_order_by_email_joins_a_known_customer_as_if_it_had_named_it() -> None:
    anonymous = prepare(placed({"email": "taro@example.jp"}), {"row": 2}, "JPY")
    assert (anonymous.customer_key, anonymous.email_only, anonymous.names_customer) == (
        "email:taro@example.jp", "taro@example.jp", False)
    anonymous.join_customer("7210448301001")
    named = prepare(placed({"id": "7210448301001", "email": "taro@example.jp"}), {"row": 2}, "JPY")
    assert anonymous.payload == named.payload
    assert anonymous.customer == named.customer and anonymous.customer_key == "7210448301001"
    assert anonymous.email_only is None and anonymous.names_customer


def test_prepared_values_are_what_the_model_says_and_travel_as_they_are() -> None:
    item = prepare(placed({"email": "taro@example.jp"}), {"row": 2, "note": "元の行"}, "USD")
    assert json.loads(item.payload)["order"]["lines"][0]["title"] == "京焼 急須"
    assert item.raw is not None and json.loads(item.raw) == {"row": 2, "note": "元の行"}
    assert item.order is not None and item.order["currency"] == "JPY" and item.order["status"] == "placed"
    assert item.lines == [{"product_id": None, "sku": "KYU", "title": "京焼 急須", "variant": None, "quantity": 1,
                           "price": 15000, "image_url": None, "url": None, "category": None}]
    assert item.event is None  # nothing it leaves behind needs the model
    assert pickle.loads(pickle.dumps(item)) == item


def test_consent_and_coupons_keep_the_model() -> None:
    assert prepare(placed({"email": "a@example.jp", "accepts_marketing": True}), None, "JPY").event is not None
    assert prepare(placed({"email": "a@example.jp"}, properties={"coupon": "TEN"}), None, "JPY").event is not None
    assert prepare(placed({"email": "a@example.jp"}, properties={"gift": True}), None, "JPY").event is None

"""EC-CUBE's signature (the plugin's own test vector), its notices, and what a fetched order or customer means."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from afterorder.domain import Connection
from afterorder.intake.adapters import Delivery
from afterorder.intake.eccube import EccubeAdapter, customer, notices, order_events, signature
from afterorder.intake.eccube_api import customer_query, order_query
from afterorder.intake.errors import Malformed, Unauthorized
from tests.platforms import RamMemory, sample, sample_json

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
VECTOR = "d3f0afc7fa7a8e5c10bfce74f4cbfdd02d2b32dc4e99efbf72a6bd5a6d117199"


def sample_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = copy.deepcopy(sample_json("eccube", "order.graphql_response.json")["data"]["order"])
    order.update(changes)
    return order


def test_the_signature_is_the_plugins_test_vector() -> None:
    assert signature("secret", sample("eccube", "webhook_payload.api42_test.json")) == VECTOR


async def test_verify_takes_the_current_or_previous_secret_lowercase_or_not_and_refuses_others() -> None:
    body = sample("eccube", "webhook_payload.api42_test.json")
    adapter = EccubeAdapter()
    rotating = Connection(1, "eccube", secret="new-secret", previous_secret="secret")
    await adapter.verify({"x-eccube-signature": VECTOR}, body, rotating)
    await adapter.verify({"x-eccube-signature": VECTOR.upper()}, body, rotating)
    for headers in ({}, {"x-eccube-signature": VECTOR[:-1] + "0"}, {"x-eccube-signature": "not hex at all"}):
        with pytest.raises(Unauthorized):
            await adapter.verify(headers, body, rotating)
    with pytest.raises(Unauthorized):
        await adapter.verify({"x-eccube-signature": VECTOR}, body, Connection(1, "eccube", secret="another"))
    with pytest.raises(Unauthorized):
        await adapter.verify({"x-eccube-signature": VECTOR}, body + b" ", rotating)


def test_notices_are_read_and_a_bad_one_is_named() -> None:
    assert [n.topic for n in notices(b'[{"entity":"order","id":5,"action":"created"},'
                                     b'{"entity":"customer","id":"7","action":"updated"}]')] == \
        ["order.created", "customer.updated"]
    for body, named in ((b'{"entity":"order"}', "JSON array"), (b'[{"entity":"order","action":"updated"}]', "'id'"),
                        (b'[{"entity":"order","id":-1,"action":"updated"}]', "webhook[0]"),
                        (b'[1]', "webhook[0]"), (b'[{"entity":{},"id":1,"action":"x"}]', "entity")):
        with pytest.raises(Malformed, match=named.replace("[", r"\[").replace("]", r"\]")):
            notices(body)


def test_the_sample_order_is_placed_paid_and_shipped_with_its_tracking_number() -> None:
    found = order_events(sample_order(), NOW)
    assert [e.id for e in found] == ["eccube:order:12:placed", "eccube:order:12:paid", "eccube:order:12:shipped:12"]
    placed, paid, shipped = found
    assert placed.occurred_at == datetime(2026, 11, 30, 1, 15, tzinfo=UTC), "order_date, +09:00"
    assert paid.occurred_at == datetime(2026, 11, 30, 1, 16, 12, tzinfo=UTC)
    order = placed.order
    assert order is not None and order.number == "12" and order.currency == "JPY"
    assert (order.subtotal, order.shipping, order.tax, order.total) == (
        Decimal("4840.0"), Decimal("1000.0"), Decimal("440.0"), Decimal("5840.0"))
    assert [(li.title, li.variant, li.quantity, li.price, li.sku) for li in order.lines] == [
        ("チェリーアイスサンド", None, 1, Decimal("3080.0"), "sand-01"),
        ("彩のジェラートCUBE", "チョコ / 16mm × 16mm", 2, Decimal("880.0"), "cube-01")]
    assert order.shipping_address is not None and order.shipping_address.region == "大阪府"
    assert order.shipping_address.city == "大阪市北区梅田" and order.shipping_address.country == "JP"
    who = placed.customer
    assert who is not None and (who.id, who.last_name, who.first_name, who.locale) == ("7", "山田", "花子", "ja")
    assert who.phone == "+819012345678" and who.accepts_marketing is True
    assert shipped.shipment is not None and shipped.shipment.tracking_number == "4391-0012-3456"
    assert shipped.shipment.carrier == "サンプル宅配" and shipped.shipment.estimated_delivery is not None


def test_a_guest_order_without_the_mail_magazine_adds_no_consent_and_two_shippings_ship_twice() -> None:
    second = {**sample_order()["Shippings"][0], "id": "13", "tracking_number": "4391-0012-9999"}
    order = sample_order(Customer=None, Shippings=[sample_order()["Shippings"][0], second])
    found = order_events(order, NOW)
    assert [e.id for e in found][-2:] == ["eccube:order:12:shipped:12", "eccube:order:12:shipped:13"]
    who = found[0].customer
    assert who is not None and who.id is None and who.email == "hanako.yamada@example.jp"
    assert who.accepts_marketing is None


def test_a_customer_is_the_customers_own_consent_and_one_who_left_has_none() -> None:
    c = sample_json("eccube", "customer.graphql_response.json")["data"]["customer"]
    assert customer(c).accepts_marketing is False
    assert customer({**c, "mailmaga_flg": 1}).accepts_marketing is True
    assert customer({**c, "mailmaga_flg": 1, "Status": {"id": "3"}}).accepts_marketing is False
    assert customer({k: v for k, v in c.items() if k != "mailmaga_flg"}).accepts_marketing is None


async def test_an_old_order_first_seen_on_an_update_sends_no_confirmation() -> None:
    adapter = EccubeAdapter()
    delivery = Delivery("eccube", "order.updated", "x", {}, b"", {"notice": {}, "entity": sample_order()},
                        datetime(2026, 12, 20, tzinfo=UTC))
    normalized = await adapter.normalize(delivery, RamMemory())
    assert [e.id for e in normalized.events] == ["eccube:order:12:paid", "eccube:order:12:shipped:12"]
    created = Delivery("eccube", "order.created", "x", {}, b"", delivery.payload, NOW)
    assert next(e.id for e in (await adapter.normalize(created, RamMemory())).events) == "eccube:order:12:placed"


def test_the_queries_ask_for_consent_only_when_the_shop_has_it() -> None:
    assert "mailmaga_flg" in order_query() and "mailmaga_flg" not in order_query(consent=False)
    assert "mailmaga_flg" in customer_query() and "mailmaga_flg" not in customer_query(consent=False)
    assert order_query().startswith("query ($id: ID!) { order(id: $id) {") and "tracking_number" in order_query()

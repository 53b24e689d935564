"""Ecwid's signature (the fixture's test vectors) and what a fetched order, customer or unfinished order means."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from afterorder.domain import Connection
from afterorder.intake.adapters import Delivery
from afterorder.intake.ecwid import EcwidAdapter, checkout_events, customer, order_events, signature
from afterorder.intake.ecwid_api import retry_after
from afterorder.intake.errors import Malformed, Unauthorized, UnknownTarget
from afterorder.intake.fetched import MAX_ATTEMPTS, backoff
from tests.platforms import RamMemory, sample, sample_json

KEY = "abcde123456789"  # the placeholder of Ecwid's PHP example
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def sample_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = copy.deepcopy(sample_json("ecwid", "get_order.v3_response.json"))
    order.update({"id": "XJ12H", **changes})
    return order


def test_the_signature_is_ecwids_published_vectors() -> None:
    assert signature(KEY, 1234567, "80aece08-40e8-4145-8764-6c2f0d38678") == \
        "lidx/4J5L2Pp4auvwGBp6DwPkpPmyVLI3oLB440X358="
    assert signature(KEY, 1634209655, "95ed494f-362d-4fca-933d-f5c7064b04bb") == \
        "NoLsApTwIZWkNZqX2Bi85FLwQkjL6WSGBoUs7unubrM="


async def test_verify_takes_the_current_or_previous_secret_and_refuses_others() -> None:
    body = sample("ecwid", "webhook_order_created.json")
    adapter = EcwidAdapter()
    good = {"x-ecwid-webhook-signature": "lidx/4J5L2Pp4auvwGBp6DwPkpPmyVLI3oLB440X358="}
    await adapter.verify(good, body, Connection(1, "ecwid", KEY))
    await adapter.verify(good, body, Connection(1, "ecwid", "new-secret", previous_secret=KEY))
    with pytest.raises(Unauthorized, match="does not match"):
        await adapter.verify(good, body, Connection(1, "ecwid", "another-apps-secret"))
    with pytest.raises(Unauthorized, match="missing"):
        await adapter.verify({}, body, Connection(1, "ecwid", KEY))
    with pytest.raises(Malformed, match="eventCreated"):
        await adapter.verify(good, b'{"eventId": "x"}', Connection(1, "ecwid", KEY))


def test_the_webhook_must_be_about_the_connected_ecwid_store() -> None:
    adapter = EcwidAdapter()
    delivery = adapter.parse({}, sample("ecwid", "webhook_order_updated.json"), NOW)
    assert (delivery.topic, delivery.delivery_id) == ("order.updated", "80aece08-40e8-4145-8764-6c2f0d38678")
    assert adapter.entity(delivery) == "B8HGD", "data.orderId, not the internal entityId, names the order"
    adapter.check_store(delivery, Connection(1, "ecwid", KEY, account_id="1003"))
    with pytest.raises(UnknownTarget, match="storeId 1003"):
        adapter.check_store(delivery, Connection(1, "ecwid", KEY, account_id="2004"))


def test_the_published_sample_order_is_placed_paid_shipped_delivered_and_partly_refunded() -> None:
    events = order_events(sample_order(), NOW)
    assert [e.id for e in events] == ["ecwid:order:XJ12H:placed", "ecwid:order:XJ12H:paid",
                                      "ecwid:order:XJ12H:shipped", "ecwid:order:XJ12H:delivered",
                                      "ecwid:order:XJ12H:refund:1"]
    placed = events[0]
    assert placed.occurred_at == datetime(2018, 5, 31, 15, 8, 36, tzinfo=UTC)
    assert placed.order is not None and placed.order.number == "lala1028001"
    assert placed.order.total == Decimal("2014.97") and placed.order.shipping == Decimal("471.85")
    assert [(line.title, line.sku, line.variant) for line in placed.order.lines] == [
        ("iMac", "ABCA-IAC", "Price-Optimizer: 6"), ("Mug", "001001", "Color: White, Size: 11oz, Price-Optimizer: 4")]
    assert placed.order.shipping_address is not None and placed.order.shipping_address.city == "Scranton"
    who = placed.customer
    assert who is not None and (who.id, who.email, who.first_name, who.last_name) == (
        "40201284", "mscott@gmail.com", "Michael", "Scott")
    assert who.locale == "en" and who.accepts_marketing is True
    assert placed.properties["discount_codes"] == ["APITESTING"]
    refund = events[-1].refund
    assert refund is not None and refund.amount == Decimal("3.5") and refund.reason == "Testing!"


@pytest.mark.parametrize(("payment", "fulfillment", "facts"), [
    ("AWAITING_PAYMENT", "AWAITING_PROCESSING", ["placed"]),
    ("PAID", "AWAITING_PROCESSING", ["placed", "paid"]),
    ("PAID", "PROCESSING", ["placed", "paid"]),
    ("PAID", "SHIPPED", ["placed", "paid", "shipped"]),
    ("PAID", "OUT_FOR_DELIVERY", ["placed", "paid", "shipped", "out_for_delivery"]),
    ("PAID", "READY_FOR_PICKUP", ["placed", "paid", "shipped"]),
    ("PAID", "DELIVERED", ["placed", "paid", "shipped", "delivered"]),
    ("PAID", "RETURNED", ["placed", "paid", "returned"]),
    ("PAID", "WILL_NOT_DELIVER", ["placed", "paid"]),
    ("CANCELLED", "AWAITING_PROCESSING", ["placed", "cancelled"]),
    ("REFUNDED", "AWAITING_PROCESSING", ["placed", "paid", "refund:1"]),
    ("INCOMPLETE", "AWAITING_PROCESSING", []),
])
def test_each_status_becomes_its_facts(payment: str, fulfillment: str, facts: list[str]) -> None:
    events = order_events(sample_order(paymentStatus=payment, fulfillmentStatus=fulfillment,
                                       trackingNumber="1Z999AA10123456784"), NOW)
    assert [e.id.removeprefix("ecwid:order:XJ12H:") for e in events] == facts
    for e in events:
        if e.id.endswith(":shipped"):
            assert e.shipment is not None and e.shipment.tracking_number == "1Z999AA10123456784"
            assert e.shipment.carrier == "Shipping app the-printful"
            assert e.properties["fulfillment_status"] == fulfillment


def test_a_refund_without_entries_is_the_refunded_amount() -> None:
    [*_, refunded] = order_events(sample_order(paymentStatus="REFUNDED", refunds=[]), NOW)
    assert refunded.id == "ecwid:order:XJ12H:refunded"
    assert refunded.refund is not None and refunded.refund.amount == Decimal("3.5")


def test_declined_marketing_on_an_order_withdraws_nothing_but_a_customer_record_does() -> None:
    [placed, *_] = order_events(sample_order(acceptMarketing=False), NOW)
    assert placed.customer is not None and placed.customer.accepts_marketing is None
    record = customer({"id": 40201284, "email": "hanako@example.jp", "acceptMarketing": False, "lang": "ja",
                       "billingPerson": {"name": "佐藤 花子", "countryCode": "JP", "phone": "090-1234-5678"}})
    assert record.accepts_marketing is False and record.locale == "ja"
    assert (record.last_name, record.first_name, record.phone) == ("佐藤", "花子", "+819012345678")


def test_an_unfinished_order_is_an_abandoned_checkout_until_it_is_paid() -> None:
    webhook = sample_json("ecwid", "webhook_unfinished_order_created.json")
    [abandoned] = checkout_events(sample_order(paymentStatus="INCOMPLETE"), webhook, NOW)
    assert abandoned.type == "checkout.updated" and abandoned.id == "ecwid:95ed494f-362d-4fca-933d-f5c7064b04bb"
    assert abandoned.checkout is not None and abandoned.checkout.id == "320AB5DE-5EA6-4419-A4CF-0B04D2913190"
    assert [line.title for line in abandoned.checkout.lines] == ["iMac", "Mug"]
    assert abandoned.customer is not None and abandoned.customer.email == "mscott@gmail.com"
    [done] = checkout_events(sample_order(paymentStatus="PAID"), webhook, NOW)
    assert done.type == "checkout.completed" and done.checkout is not None and done.checkout.completed_at


def test_backoff_grows_and_a_rate_limit_is_its_retry_after() -> None:
    delays = [backoff(n).total_seconds() for n in range(1, MAX_ATTEMPTS)]
    assert delays == sorted(delays) and delays[0] < 60 and delays[-1] == 3600
    assert retry_after("120") == 120 and retry_after(None) == 30 and retry_after("soon") == 30


async def test_an_old_order_first_seen_in_an_update_is_not_placed_now() -> None:
    adapter = EcwidAdapter()
    webhook = sample_json("ecwid", "webhook_order_updated.json")

    def delivery(topic: str, order: dict[str, Any]) -> Delivery:
        return Delivery("ecwid", topic, "e-1", {}, b"", {"event": {**webhook, "eventType": topic}, "entity": order},
                        NOW)

    memory = RamMemory()
    old = await adapter.normalize(delivery("order.updated", sample_order()), memory)
    assert [e.id.rsplit(":", 1)[-1] for e in old.events] == ["paid", "shipped", "delivered", "1"]
    memory.learn(old.remember)
    again = await adapter.normalize(delivery("order.updated", sample_order()), memory)
    assert again.events[0].id.endswith(":placed"), "an order seen before keeps its facts (stored once anyway)"
    recent = sample_order(createTimestamp=int(NOW.timestamp()) - 600)
    fresh = await adapter.normalize(delivery("order.updated", recent), RamMemory())
    assert fresh.events[0].id.endswith(":placed"), "an order placed minutes ago whose order.created was lost"
    created = await adapter.normalize(delivery("order.created", sample_order()), RamMemory())
    assert created.events[0].id.endswith(":placed")

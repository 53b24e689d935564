"""The platforms' own published sample bodies through each adapter, field by field, and the
published signature test vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from afterorder.domain import Connection, EventType
from afterorder.intake.adapters import Normalized
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.intake.platforms import build_adapters
from tests.platforms import RamMemory, b64_hmac, sample, sample_json, shopify_headers, woocommerce_headers

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ADAPTERS = build_adapters()
SHOPIFY, WOO, SALEOR = ADAPTERS["shopify"], ADAPTERS["woocommerce"], ADAPTERS["saleor"]


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


async def shopify(topic: str, body: bytes | dict[str, Any], memory: RamMemory | None = None,
                  webhook_id: str = "wh-1") -> Normalized:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    memory = memory or RamMemory()
    delivery = SHOPIFY.parse(lower(shopify_headers(raw, "s", topic, webhook_id)), raw, NOW)
    result = await SHOPIFY.normalize(delivery, memory)
    memory.learn(result.remember)
    return result


async def woo(topic: str, body: bytes | dict[str, Any], memory: RamMemory) -> Normalized:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    result = await WOO.normalize(WOO.parse(lower(woocommerce_headers(raw, "s", topic)), raw, NOW), memory)
    memory.learn(result.remember)
    return result


async def saleor(event: str, body: bytes | dict[str, Any]) -> Normalized:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await SALEOR.normalize(SALEOR.parse({"saleor-event": event.lower()}, raw, NOW), RamMemory())


# ---- signatures ---------------------------------------------------------------------------------


async def test_shopify_published_signature_vector() -> None:
    headers = {"x-shopify-hmac-sha256": "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="}
    await SHOPIFY.verify(headers, b'{"foo": "bar"}', Connection(1, "shopify", "test_secret_key"))
    with pytest.raises(Unauthorized, match="does not match"):
        await SHOPIFY.verify(headers, b'{"foo": "bar"}', Connection(1, "shopify", "another_secret"))
    with pytest.raises(Unauthorized, match="does not match"):
        await SHOPIFY.verify(headers, b'{"foo":"bar"}', Connection(1, "shopify", "test_secret_key"))
    with pytest.raises(Unauthorized, match="missing"):
        await SHOPIFY.verify({}, b'{"foo": "bar"}', Connection(1, "shopify", "test_secret_key"))


async def test_shopify_accepts_the_previous_secret_during_a_rotation() -> None:
    headers = {"x-shopify-hmac-sha256": "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="}
    await SHOPIFY.verify(headers, b'{"foo": "bar"}', Connection(1, "shopify", "new_secret", "test_secret_key"))


async def test_shopify_verifies_the_raw_bytes_with_escaped_slashes_not_reserialized_json() -> None:
    raw = sample("shopify", "real_capture_order_fulfillment_delivered.fragment.json")
    assert b"\\/" in raw
    signature = b64_hmac("shpss_secret", raw)
    await SHOPIFY.verify({"x-shopify-hmac-sha256": signature}, raw, Connection(1, "shopify", "shpss_secret"))
    reserialized = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    with pytest.raises(Unauthorized):
        await SHOPIFY.verify({"x-shopify-hmac-sha256": signature}, reserialized,
                             Connection(1, "shopify", "shpss_secret"))


async def test_woocommerce_published_signature_vector_and_the_creation_ping() -> None:
    headers = {"x-wc-webhook-signature": "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="}
    await WOO.verify(headers, b"secret", Connection(1, "woocommerce", ""))
    with pytest.raises(Unauthorized):
        await WOO.verify(headers, b"secret", Connection(1, "woocommerce", "x"))
    assert WOO.ping({"content-type": "application/x-www-form-urlencoded"}, b"webhook_id=31")
    assert not WOO.ping({}, b'{"id": 31}')
    assert not WOO.ping({}, b"webhook_id=31&x=1")


async def test_saleor_legacy_hex_hmac() -> None:
    import hashlib
    import hmac

    body = sample("saleor", "ORDER_CREATED.json")
    good = hmac.new(b"saleor-secret", body, hashlib.sha256).hexdigest()
    await SALEOR.verify({"saleor-signature": good}, body, Connection(1, "saleor", "saleor-secret"))
    with pytest.raises(Unauthorized):
        await SALEOR.verify({"saleor-signature": good}, body + b" ", Connection(1, "saleor", "saleor-secret"))
    with pytest.raises(Unauthorized, match="without a secret"):
        await SALEOR.verify({"saleor-signature": good}, body, Connection(1, "saleor", None, api_url="https://x.example"))


# ---- Shopify samples ----------------------------------------------------------------------------


async def test_shopify_orders_create_sample() -> None:
    [event] = (await shopify("orders/create", sample("shopify", "orders_create.sample.json"))).events
    assert event.id == "shopify:order:820982911946154508:placed"
    assert event.type == EventType.ORDER_PLACED
    assert event.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    customer, order = event.customer, event.order
    assert customer is not None and order is not None
    assert (customer.id, customer.email, customer.first_name, customer.last_name) == (
        "115310627314723954", "john@example.com", "John", "Smith")
    assert customer.locale == "en" and customer.country == "US"
    assert customer.accepts_marketing is True  # buyer_accepts_marketing: true
    assert (order.id, order.number, order.currency) == ("820982911946154508", "#9999", "USD")
    assert (order.subtotal, order.shipping, order.tax, order.discount, order.total) == (
        Decimal("404.95"), Decimal("10.00"), Decimal("0.00"), Decimal("20.00"), Decimal("404.95"))
    assert [(line.title, line.sku, line.quantity, line.price, line.product_id) for line in order.lines] == [
        ("Aviator sunglasses", "SKU2006-001", 1, Decimal("89.99"), "788032119674292922"),
        ("Lens Protection Plan (2 Year)", "LENS-PROTECT-2YR", 1, Decimal("19.99"), None),
        ("Premium Leather Case", "CASE-LEATHER-PREM", 1, Decimal("24.99"), None),
        ("Mid-century lounger", "SKU2006-020", 1, Decimal("159.99"), "788032119674292922"),
        ("Coffee table", "SKU2006-035", 1, Decimal("119.99"), "788032119674292922"),
    ]
    assert order.shipping_address is not None
    assert (order.shipping_address.name, order.shipping_address.city, order.shipping_address.postal_code,
            order.shipping_address.country) == ("Steve Shipper", "Shippington", "40003", "US")


async def test_shopify_order_for_a_japanese_customer() -> None:
    body = sample_json("shopify", "orders_create.sample.json")
    body.update(customer_locale="ja", currency="JPY", presentment_currency="JPY", buyer_accepts_marketing=False)
    for key in [k for k in body if k.endswith("_set")]:
        del body[key]
    body.update(subtotal_price="15000", total_price="15800", total_tax="0", total_discounts="0")
    body["shipping_address"].update(country_code="JP", country="Japan", city="京都市", zip="600-8216",
                                    province_code="JP-26", name="山田 太郎")
    body["customer"].update(first_name="太郎", last_name="山田", email="taro@example.jp",
                            email_marketing_consent={"state": "not_subscribed", "opt_in_level": None})
    for line in body["line_items"]:
        line.pop("price_set")
    [event] = (await shopify("orders/create", body)).events
    assert event.customer is not None and event.order is not None
    assert (event.customer.locale, event.customer.country, event.customer.email) == ("ja", "JP", "taro@example.jp")
    assert event.customer.accepts_marketing is False
    assert event.order.currency == "JPY" and event.order.total == Decimal("15800")
    assert event.order.shipping_address is not None and event.order.shipping_address.country == "JP"


async def test_shopify_fulfillments_create_is_shipped_with_tracking() -> None:
    [event] = (await shopify("fulfillments/create", sample("shopify", "fulfillments_create.sample.json"))).events
    assert event.id == "shopify:fulfillment:123456:shipped" and event.type == EventType.ORDER_SHIPPED
    assert event.order is not None and event.order.id == "820982911946154508"
    assert event.shipment is not None
    assert (event.shipment.carrier, event.shipment.tracking_number, event.shipment.tracking_url) == (
        "UPS", "1z827wk74630", "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630")


async def test_shopify_orders_fulfilled_is_shipped() -> None:
    [event] = (await shopify("orders/fulfilled", sample("shopify", "orders_fulfilled.sample.json"))).events
    assert event.type == EventType.ORDER_SHIPPED and event.id == "shopify:order:820982911946154508:shipped"
    assert event.order is not None and len(event.order.lines) == 5
    body = sample_json("shopify", "orders_fulfilled.sample.json")
    body["fulfillments"] = [sample_json("shopify", "fulfillments_create.sample.json")]
    [with_parcel] = (await shopify("orders/fulfilled", body)).events
    assert with_parcel.id == "shopify:fulfillment:123456:shipped", "the same parcel as fulfillments/create: one event"
    assert with_parcel.shipment is not None and with_parcel.shipment.tracking_number == "1z827wk74630"


async def test_shopify_delivered_fulfillment_and_fulfillment_event() -> None:
    not_yet = await shopify("fulfillments/update", sample("shopify", "fulfillments_update.sample.json"))
    assert not_yet.events == [] and "not delivered" in (not_yet.ignored or "")
    [delivered] = (await shopify("fulfillments/update",
                                 sample("shopify", "real_capture_order_fulfillment_delivered.fragment.json"))).events
    assert delivered.type == EventType.ORDER_DELIVERED and delivered.id == "shopify:fulfillment:2509059358769:delivered"
    assert delivered.order is not None and delivered.order.id == "2628173987889"
    assert delivered.shipment is not None and delivered.shipment.carrier == "USPS"
    assert delivered.shipment.tracking_url == \
        "https://tools.usps.com/go/TrackConfirmAction.action?tLabels=9400000000000000000000"

    in_transit = await shopify("fulfillment_events/create", sample("shopify", "fulfillment_events_create.sample.json"))
    assert in_transit.events == [] and "in_transit" in (in_transit.ignored or "")
    body = sample_json("shopify", "fulfillment_events_create.sample.json")
    body["status"] = "delivered"
    [event] = (await shopify("fulfillment_events/create", body)).events
    assert event.type == EventType.ORDER_DELIVERED and event.id == "shopify:fulfillment:123456:delivered"
    assert event.order is not None and event.order.id == "820982911946154508"


async def test_shopify_fulfillment_event_out_for_delivery() -> None:
    # Shopify's published sample is "in_transit"; this variant of it differs in status and message only
    body = sample("shopify", "fulfillment_events_create.out_for_delivery.variant.json")
    assert json.loads(body)["status"] == "out_for_delivery"
    [event] = (await shopify("fulfillment_events/create", body)).events
    assert event.type == EventType.ORDER_OUT_FOR_DELIVERY and event.id == "shopify:fulfillment:123456:out_for_delivery"
    assert event.order is not None and event.order.id == "820982911946154508"
    assert event.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert event.shipment is None, "the fulfillment's carrier and tracking number stay on the order"


async def test_shopify_orders_cancelled_and_paid() -> None:
    body = sample("shopify", "orders_create.sample.json")
    [cancelled] = (await shopify("orders/cancelled", body)).events
    assert cancelled.type == EventType.ORDER_CANCELLED and cancelled.id.endswith(":cancelled")
    assert cancelled.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    [paid] = (await shopify("orders/paid", body)).events
    assert paid.type == EventType.ORDER_PAID and paid.id == "shopify:order:820982911946154508:paid"


async def test_shopify_refunds_create() -> None:
    [event] = (await shopify("refunds/create", sample("shopify", "refunds_create.sample.json"))).events
    assert event.type == EventType.ORDER_REFUNDED and event.id == "shopify:refund:890088186047892319"
    assert event.order is not None and event.order.id == "820982911946154508"
    refund = event.refund
    assert refund is not None
    assert refund.amount == Decimal("85.00") and refund.currency == "USD" and refund.reason == "Things were damaged"
    assert [(r.title, r.sku, r.quantity, r.amount) for r in refund.lines][:2] == [
        ("Aviator sunglasses", "SKU2006-001", 1, Decimal("89.99")),
        ("Lens Protection Plan (2 Year)", "LENS-PROTECT-2YR", 1, Decimal("19.99"))]
    assert len(refund.lines) == 5


async def test_shopify_abandoned_checkout_and_a_completed_one() -> None:
    [event] = (await shopify("checkouts/update", sample("shopify", "checkouts_update.sample.json"),
                             webhook_id="c-1")).events
    assert event.type == EventType.CHECKOUT_UPDATED and event.id == "shopify:c-1"
    checkout = event.checkout
    assert checkout is not None
    assert checkout.id == "123123123"
    assert checkout.url == "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"
    assert (checkout.currency, checkout.subtotal, checkout.total) == ("USD", Decimal("398.00"), Decimal("421.88"))
    assert [(line.title, line.variant, line.sku, line.price) for line in checkout.lines] == [
        ("IPod Nano - 8GB", "Pink", "IPOD2008PINK", Decimal("199.00"))] * 2
    assert event.customer is not None and event.customer.email == "john@example.com"
    assert event.customer.accepts_marketing is None  # unticked box at checkout is not an unsubscribe
    body = sample_json("shopify", "checkouts_update.sample.json")
    body["completed_at"] = "2022-01-01T10:00:00+09:00"
    [done] = (await shopify("checkouts/update", body, webhook_id="c-2")).events
    assert done.type == EventType.CHECKOUT_COMPLETED and done.checkout is not None
    assert done.checkout.completed_at == datetime(2022, 1, 1, 1, 0, tzinfo=UTC)


async def test_shopify_customers_with_marketing_consent() -> None:
    [created] = (await shopify("customers/create", sample("shopify", "customers_create.sample.json"))).events
    assert created.type == EventType.CUSTOMER_CREATED and created.customer is not None
    assert (created.customer.id, created.customer.email, created.customer.first_name, created.customer.country) == (
        "706405506930370084", "bob@biller.com", "Bob", "CA")
    assert created.customer.accepts_marketing is None, "the sample says nothing about consent"
    body = sample_json("shopify", "customers_create.sample.json")
    body["email_marketing_consent"] = {"state": "subscribed", "opt_in_level": "single_opt_in",
                                       "consent_updated_at": "2026-11-20T10:00:00+09:00"}
    [updated] = (await shopify("customers/update", body)).events
    assert updated.type == EventType.CUSTOMER_UPDATED and updated.customer is not None
    assert updated.customer.accepts_marketing is True
    body["email_marketing_consent"]["state"] = "unsubscribed"
    [unsubscribed] = (await shopify("customers/update", body, webhook_id="wh-2")).events
    assert unsubscribed.customer is not None and unsubscribed.customer.accepts_marketing is False


PRODUCT = {
    "id": 632910392, "title": "IPod Nano - 8GB", "handle": "ipod-nano", "product_type": "Cult Products",
    "tags": "Emotive, Flash Memory, MP3", "updated_at": "2026-11-20T10:00:00-05:00", "status": "active",
    "image": {"id": 850703190, "src": "https://cdn.shopify.com/ipod-nano.png"},
    "images": [{"id": 850703190, "src": "https://cdn.shopify.com/ipod-nano.png"},
               {"id": 562641783, "src": "https://cdn.shopify.com/ipod-nano-2.png"}],
    "variants": [
        {"id": 808950810, "title": "Pink", "price": "199.00", "sku": "IPOD2008PINK", "inventory_item_id": 808950810,
         "inventory_quantity": 0, "inventory_management": "shopify", "inventory_policy": "deny", "image_id": 562641783},
        {"id": 49148385, "title": "Red", "price": "199.00", "sku": "IPOD2008RED", "inventory_item_id": 49148385,
         "inventory_quantity": 20, "inventory_management": "shopify", "inventory_policy": "deny", "image_id": None},
    ],
}


async def test_shopify_products_and_a_restock_from_zero() -> None:
    memory = RamMemory()
    result = await shopify("products/update", PRODUCT, memory)
    pink, red = result.events
    assert pink.type == EventType.PRODUCT_UPDATED and pink.product is not None and red.product is not None
    assert (pink.product.id, pink.product.variant_id, pink.product.sku, pink.product.title, pink.product.variant) == (
        "632910392", "808950810", "IPOD2008PINK", "IPod Nano - 8GB", "Pink")
    assert pink.product.category == "Cult Products" and pink.product.tags == ["Emotive", "Flash Memory", "MP3"]
    assert pink.product.url == "https://kumo-tea.myshopify.com/products/ipod-nano"
    assert pink.product.image_url == "https://cdn.shopify.com/ipod-nano-2.png"
    assert red.product.image_url == "https://cdn.shopify.com/ipod-nano.png"
    assert (pink.product.in_stock, red.product.in_stock, red.product.price) == (False, True, Decimal("199.00"))

    level = sample_json("shopify", "inventory_levels_update.sample.json")
    level.update(inventory_item_id=808950810, available=0)
    first = await shopify("inventory_levels/update", level, memory, webhook_id="inv-1")
    assert first.events == [] and first.ignored
    level["available"] = 10
    [restocked] = (await shopify("inventory_levels/update", level, memory, webhook_id="inv-2")).events
    assert restocked.type == EventType.PRODUCT_RESTOCKED and restocked.product is not None
    assert (restocked.product.id, restocked.product.variant_id, restocked.product.in_stock,
            restocked.product.inventory_quantity) == ("632910392", "808950810", True, 10)
    level["available"] = 12
    more = await shopify("inventory_levels/update", level, memory, webhook_id="inv-3")
    assert more.events == [], "10 → 12 is not a restock"


async def test_shopify_inventory_sample_first_seen_is_only_remembered() -> None:
    memory = RamMemory()
    result = await shopify("inventory_levels/update", sample("shopify", "inventory_levels_update.sample.json"), memory)
    assert result.events == [] and memory.items["271878346596884015"].levels == {"24826418": 10}


async def test_shopify_unknown_topic_and_unreadable_bodies() -> None:
    ignored = await shopify("app/uninstalled", {"id": 1})
    assert ignored.events == [] and "app/uninstalled" in (ignored.ignored or "")
    with pytest.raises(Malformed, match="not valid JSON"):
        SHOPIFY.parse({"x-shopify-topic": "orders/create"}, b"{not json", NOW)
    with pytest.raises(Malformed, match="'id' is missing"):
        await shopify("orders/create", {"name": "#1"})
    with pytest.raises(Malformed, match="X-Shopify-Topic"):
        SHOPIFY.parse({}, b"{}", NOW)


# ---- WooCommerce samples ------------------------------------------------------------------------


async def test_woocommerce_order_created_processing_is_placed_and_paid() -> None:
    memory = RamMemory()
    placed, paid = (await woo("order.created", sample("woocommerce", "order_created.v3_example.json"), memory)).events
    assert (placed.id, placed.type) == ("woocommerce:order:727:order.placed", EventType.ORDER_PLACED)
    assert (paid.id, paid.type) == ("woocommerce:order:727:order.paid", EventType.ORDER_PAID)
    assert placed.occurred_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert paid.occurred_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    order, customer = placed.order, placed.customer
    assert order is not None and customer is not None
    assert (order.id, order.number, order.currency) == ("727", "727", "USD")
    assert (order.subtotal, order.shipping, order.tax, order.discount, order.total) == (
        Decimal("18.00"), Decimal("10.00"), Decimal("1.35"), Decimal("0.00"), Decimal("29.35"))
    assert [(li.title, li.variant, li.sku, li.quantity, li.price, li.product_id) for li in order.lines] == [
        ("Woo Single #1", None, None, 2, Decimal("3"), "93"),
        ("Ship Your Idea – Color: Black, Size: M Test", "black / M Test", "Bar3", 1, Decimal("12"), "22")]
    assert (customer.id, customer.email, customer.first_name, customer.country) == (
        None, "john.doe@example.com", "John", "US")
    assert order.shipping_address is not None and order.shipping_address.postal_code == "94103"
    assert memory.orders == {"727": "processing"}


async def test_woocommerce_each_status_change_once() -> None:
    memory = RamMemory()
    await woo("order.created", sample("woocommerce", "order_created.v3_example.json"), memory)
    [shipped] = (await woo("order.updated", sample("woocommerce", "order_updated.v3_example.json"), memory)).events
    assert (shipped.id, shipped.type) == ("woocommerce:order:727:order.shipped", EventType.ORDER_SHIPPED)
    assert shipped.occurred_at == datetime(2017, 3, 22, 19, 30, 35, tzinfo=UTC)
    again = await woo("order.updated", sample("woocommerce", "order_updated.v3_example.json"), memory)
    assert again.events == [] and "still 'completed'" in (again.ignored or "")

    body = sample_json("woocommerce", "order_updated.v3_example.json")
    body.update(status="refunded", refunds=[{"id": 726, "reason": "damaged", "total": "-29.35"}])
    [refunded] = (await woo("order.updated", body, memory)).events
    assert refunded.type == EventType.ORDER_REFUNDED and refunded.refund is not None
    assert (refunded.refund.amount, refunded.refund.currency, refunded.refund.reason) == (
        Decimal("29.35"), "USD", "damaged")


async def test_woocommerce_bank_transfer_order_then_payment_then_cancellation() -> None:
    memory = RamMemory()
    body = sample_json("woocommerce", "order_created.v3_example.json")
    body.update(id=800, status="pending")
    assert (await woo("order.created", body, memory)).events == []
    body["status"] = "on-hold"
    assert [e.type for e in (await woo("order.updated", body, memory)).events] == [EventType.ORDER_PLACED]
    body["status"] = "processing"
    assert [e.type for e in (await woo("order.updated", body, memory)).events] == [EventType.ORDER_PAID]
    body["status"] = "cancelled"
    cancelled = (await woo("order.updated", body, memory)).events
    assert [e.id for e in cancelled] == ["woocommerce:order:800:order.cancelled"]
    body.update(id=801, status="failed")
    assert (await woo("order.created", body, memory)).events == []


async def test_woocommerce_first_seen_completed_order_sends_no_confirmation() -> None:
    events = (await woo("order.updated", sample("woocommerce", "order_updated.v3_example.json"), RamMemory())).events
    assert [e.type for e in events] == [EventType.ORDER_PAID, EventType.ORDER_SHIPPED]


async def test_woocommerce_customer_and_a_product_back_in_stock() -> None:
    memory = RamMemory()
    customer = {"id": 25, "date_created_gmt": "2026-11-20T01:00:00", "date_modified_gmt": "2026-11-21T01:00:00",
                "email": "hanako@example.jp", "first_name": "花子", "last_name": "佐藤", "role": "customer",
                "billing": {"country": "JP", "phone": "090-0000-0000", "email": "hanako@example.jp"}}
    [created] = (await woo("customer.created", customer, memory)).events
    assert created.type == EventType.CUSTOMER_CREATED and created.customer is not None
    assert (created.customer.id, created.customer.email, created.customer.last_name, created.customer.country) == (
        "25", "hanako@example.jp", "佐藤", "JP")
    product = {"id": 93, "name": "Woo Single #1", "permalink": "https://shop.example.com/product/woo-single-1/",
               "date_modified_gmt": "2026-11-21T01:00:00", "type": "simple", "sku": "WS1", "price": "3.00",
               "stock_quantity": 0, "stock_status": "outofstock", "manage_stock": True, "parent_id": 0,
               "categories": [{"id": 9, "name": "Clothing &amp; Bags"}], "tags": [{"id": 1, "name": "summer"}],
               "images": [{"id": 1, "src": "https://shop.example.com/ws1.jpg"}]}
    [out] = (await woo("product.updated", product, memory)).events
    assert out.type == EventType.PRODUCT_UPDATED and out.product is not None and out.product.in_stock is False
    assert (out.product.category, out.product.tags, out.product.url) == (
        "Clothing & Bags", ["summer"], "https://shop.example.com/product/woo-single-1/")
    product.update(stock_quantity=5, stock_status="instock")
    updated, restocked = (await woo("product.updated", product, memory)).events
    assert updated.product is not None and updated.product.in_stock is True
    assert restocked.type == EventType.PRODUCT_RESTOCKED and restocked.product is not None
    assert (restocked.product.id, restocked.product.inventory_quantity, restocked.product.in_stock) == ("93", 5, True)
    product["stock_quantity"] = 6
    assert [e.type for e in (await woo("product.updated", product, memory)).events] == [EventType.PRODUCT_UPDATED]


async def test_woocommerce_deleted_resources_and_unknown_topics_are_ignored() -> None:
    assert (await woo("order.deleted", {"id": 727}, RamMemory())).ignored
    assert (await woo("order.updated", {"id": 727}, RamMemory())).ignored
    assert (await woo("coupon.created", {"id": 1, "code": "x"}, RamMemory())).ignored


# ---- Saleor samples -----------------------------------------------------------------------------

SALEOR_ORDER = "T3JkZXI6NTdiNTBhNDAtYzRmYi00YjQzLWIxODgtM2JhZmRlMTc3MGQ5"


async def test_saleor_order_created_sample() -> None:
    [event] = (await saleor("ORDER_CREATED", sample("saleor", "ORDER_CREATED.json"))).events
    assert event.id == f"saleor:order:{SALEOR_ORDER}:placed" and event.type == EventType.ORDER_PLACED
    assert event.occurred_at == datetime(2024, 1, 15, 14, 32, tzinfo=UTC)
    order, customer = event.order, event.customer
    assert order is not None and customer is not None
    assert (order.number, order.currency, order.subtotal, order.shipping, order.tax, order.total) == (
        "1042", "USD", Decimal("201"), Decimal("12"), Decimal("19.36"), Decimal("213"))
    assert [(line.title, line.variant, line.sku, line.quantity, line.price) for line in order.lines] == [
        ("Organic Cotton T-Shirt", "Navy / Large", "OCT-NVY-L", 2, Decimal("40")),
        ("Limited Edition Anniversary Collection Ceramic Mug with Gold Trim", None, "MUG-ANNIVERSARY-GOLD", 1,
         Decimal("25")),
        ("Wireless Earbuds Pro", "Matte Black", "WEP-BLK-001", 1, Decimal("96"))]
    assert order.lines[0].image_url == "https://picsum.photos/seed/tshirt/150/150"
    assert (customer.email, customer.first_name, customer.last_name, customer.locale) == (
        "adrian.king@example.com", "Adrian", "King", "en")
    assert order.shipping_address is not None and order.shipping_address.line1 == "742 Evergreen Terrace"


@pytest.mark.parametrize(("name", "kind", "suffix"), [
    ("ORDER_FULLY_PAID", EventType.ORDER_PAID, ":paid"),
    ("ORDER_CANCELLED", EventType.ORDER_CANCELLED, ":cancelled"),
    ("ORDER_FULFILLED", EventType.ORDER_SHIPPED, ":shipped:"),
    ("ORDER_REFUNDED", EventType.ORDER_REFUNDED, ":refunded:"),
])
async def test_saleor_order_events(name: str, kind: EventType, suffix: str) -> None:
    [event] = (await saleor(name, sample("saleor", f"{name}.json"))).events
    assert event.type == kind and f"saleor:order:{SALEOR_ORDER}{suffix}" in event.id
    assert event.order is not None and event.order.total == Decimal("213")
    assert event.customer is not None and event.customer.email == "adrian.king@example.com"


async def test_saleor_fulfillment_update_carries_the_tracking_link() -> None:
    [event] = (await saleor("ORDER_FULFILLMENT_UPDATE", sample("saleor", "ORDER_FULFILLMENT_UPDATE.json"))).events
    assert event.type == EventType.ORDER_SHIPPED and event.shipment is not None
    assert event.shipment.tracking_url == "https://track.example.com/1Z999AA10123456784"
    assert event.order is not None and event.order.id == SALEOR_ORDER and event.order.number == "1042"
    assert event.order.shipping_address is not None and event.order.shipping_address.country == "US"
    assert event.order.lines[0].product_id == "UHJvZHVjdDoxMzQ="


async def test_saleor_checkout_customer_and_back_in_stock() -> None:
    checkout = {"issuedAt": "2026-11-22T01:00:00+00:00", "checkout": {
        "id": "Q2hlY2tvdXQ6MQ==", "token": "4e6c1c2e-1b0e-4a4c-9a67-0e1f7b1e0b11", "email": "mei@example.cn",
        "languageCode": "ZH_HANS",
        "totalPrice": {"gross": {"amount": 198, "currency": "CNY"}},
        "subtotalPrice": {"gross": {"amount": 188, "currency": "CNY"}},
        "lines": [{"quantity": 2, "unitPrice": {"gross": {"amount": 94, "currency": "CNY"}},
                   "variant": {"id": "UHJvZHVjdFZhcmlhbnQ6MzQ4", "name": "Large", "sku": "TEA-L",
                               "product": {"id": "UHJvZHVjdDoxMzQ=", "name": "龙井茶",
                                           "thumbnail": {"url": "https://cdn.example/tea.jpg"}}}}]}}
    [event] = (await saleor("CHECKOUT_UPDATED", checkout)).events
    assert event.type == EventType.CHECKOUT_UPDATED and event.checkout is not None and event.customer is not None
    assert (event.checkout.id, event.checkout.currency, event.checkout.total) == (
        "4e6c1c2e-1b0e-4a4c-9a67-0e1f7b1e0b11", "CNY", Decimal("198"))
    assert [(line.title, line.variant, line.quantity, line.price) for line in event.checkout.lines] == [
        ("龙井茶", "Large", 2, Decimal("94"))]
    assert (event.customer.email, event.customer.locale) == ("mei@example.cn", "zh-Hans")

    user = {"user": {"id": "VXNlcjoyMA==", "email": "ken@example.jp", "firstName": "健", "lastName": "鈴木",
                     "languageCode": "JA", "defaultShippingAddress": {"country": {"code": "JP"}}}}
    [created] = (await saleor("CUSTOMER_CREATED", user)).events
    assert created.customer is not None and created.id == "saleor:customer:VXNlcjoyMA==:created"
    assert (created.customer.email, created.customer.locale, created.customer.country) == ("ken@example.jp", "ja", "JP")

    back = {"productVariant": {"id": "UHJvZHVjdFZhcmlhbnQ6MzQ4", "name": "Large", "sku": "TEA-L",
                               "product": {"id": "UHJvZHVjdDoxMzQ=", "name": "龙井茶"}}}
    [restocked] = (await saleor("PRODUCT_VARIANT_BACK_IN_STOCK", back)).events
    assert restocked.type == EventType.PRODUCT_RESTOCKED and restocked.product is not None
    assert (restocked.product.id, restocked.product.variant_id, restocked.product.in_stock) == (
        "UHJvZHVjdDoxMzQ=", "UHJvZHVjdFZhcmlhbnQ6MzQ4", True)
    assert (await saleor("ORDER_EXPIRED", {"order": {}})).ignored


def test_language_codes_and_origins_as_platforms_send_them() -> None:
    from afterorder.intake.adapters import locale_tag
    from afterorder.intake.saleor import origin

    assert [locale_tag(v) for v in ("ja", "JA", "ja-JP", "zh_Hans", "ZH_HANS", "en-us", "", None, "1x")] == [
        "ja", "ja", "ja-JP", "zh-Hans", "zh-Hans", "en-US", None, None, None]
    assert origin("https://Shop.Example.com:443/graphql/") == "https://shop.example.com"
    assert origin("http://127.0.0.1:8001/graphql/") == "http://127.0.0.1:8001"
    assert origin("https://shop.example.com/graphql/") != origin("https://shop.example.com.evil.example/graphql/")
    with pytest.raises(ValueError):
        origin("file:///etc/passwd")

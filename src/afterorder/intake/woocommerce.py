"""WooCommerce webhooks: ``X-WC-Webhook-Signature`` (base64 HMAC-SHA256), whole resources per topic.

WooCommerce sends the whole order on every ``order.created`` / ``order.updated``, not what
changed, so afterorder remembers each order's last status and turns only a real change into
events: what the previous status already reported is left out (on-hold → processing is only
``order.paid``), and a repeated ``order.updated`` with the same status is recorded and ignored.

| status     | events                                                          |
|------------|-----------------------------------------------------------------|
| pending    | none (awaiting payment; WooCommerce sends the customer nothing)  |
| on-hold    | order.placed                                                    |
| processing | order.placed and order.paid                                     |
| completed  | order.paid and order.shipped (and order.placed, unless first seen completed) |
| cancelled  | order.cancelled                                                 |
| refunded   | order.refunded (the sum of the order's refunds)                  |
| failed     | none (payment failed)                                           |

``completed`` means the shop has sent the goods: WooCommerce has no "delivered" state, so it is
``order.shipped`` (with tracking from the Shipment Tracking extension's meta data when present);
send ``order.delivered`` through the events API if your carrier tells you.  Event ids are
``woocommerce:order:<id>:<event>``, so each fact is stored once however often it is reported.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from afterorder.domain import (
    Address,
    Connection,
    CustomerIn,
    Event,
    EventType,
    ItemSeen,
    LineIn,
    OrderIn,
    OrderSeen,
    ProductIn,
    RefundIn,
    ShipmentIn,
)
from afterorder.intake.adapters import (
    Delivery,
    Memory,
    Normalized,
    base64_hmac_matches,
    body_digest,
    country_code,
    items,
    load_json,
    money,
    need_id,
    obj,
    text,
    timestamp,
)
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.phones import lenient

TOPICS: dict[str, str] = {
    "order.created": "order", "order.updated": "order",
    "customer.created": "customer", "customer.updated": "customer",
    "product.created": "product", "product.updated": "product",
}
STATUS_EVENTS: dict[str, tuple[EventType, ...]] = {
    "pending": (),
    "on-hold": (EventType.ORDER_PLACED,),
    "processing": (EventType.ORDER_PLACED, EventType.ORDER_PAID),
    "completed": (EventType.ORDER_PLACED, EventType.ORDER_PAID, EventType.ORDER_SHIPPED),
    "cancelled": (EventType.ORDER_CANCELLED,),
    "refunded": (EventType.ORDER_REFUNDED,),
    "failed": (),
}
# a completed order first seen by afterorder is history: no confirmation for it now
FIRST_SEEN_SKIPS: dict[str, set[EventType]] = {"completed": {EventType.ORDER_PLACED}}


def _gmt(value: Any) -> datetime | None:
    """WooCommerce's ``*_gmt`` fields are UTC without an offset."""
    return timestamp(value, assume_utc=True)


def _address(a: dict[str, Any]) -> Address | None:
    if not any(text(v) for v in a.values()):
        return None
    name = " ".join(p for p in (text(a.get("first_name")), text(a.get("last_name"))) if p)
    return Address(name=name or None, company=text(a.get("company")), line1=text(a.get("address_1")),
                   line2=text(a.get("address_2")), city=text(a.get("city")), region=text(a.get("state")),
                   postal_code=text(a.get("postcode")), country=country_code(a.get("country")),
                   phone=text(a.get("phone")))


def _line(data: dict[str, Any]) -> LineIn:
    quantity = max(int(data.get("quantity") or 1), 1)
    price = money(data.get("price"))
    if price is None:
        price = (money(data.get("subtotal")) or Decimal(0)) / quantity
    # a variation's attributes are the line's visible meta data (keys with "_" are WooCommerce's own)
    attributes = [text(m.get("display_value")) or text(m.get("value")) for m in items(data.get("meta_data"))
                  if isinstance(m.get("key"), str) and not m["key"].startswith("_")]
    variant = " / ".join(a for a in attributes if a) or None
    return LineIn(product_id=text(data.get("product_id")), sku=text(data.get("sku")),
                  title=html.unescape(text(data.get("name")) or "(item)"),
                  variant=html.unescape(variant) if variant else None, quantity=quantity, price=price,
                  image_url=text(obj(data.get("image")).get("src")))


def _tracking(order: dict[str, Any]) -> ShipmentIn | None:
    """Tracking from the WooCommerce Shipment Tracking extension (``_wc_shipment_tracking_items``)."""
    for meta in items(order.get("meta_data")):
        if meta.get("key") == "_wc_shipment_tracking_items":
            for entry in items(meta.get("value")):
                carrier = text(entry.get("tracking_provider")) or text(entry.get("custom_tracking_provider"))
                return ShipmentIn(carrier=carrier,
                                  tracking_number=text(entry.get("tracking_number")),
                                  tracking_url=text(entry.get("custom_tracking_link")))
    return None


def _customer_of_order(order: dict[str, Any]) -> CustomerIn | None:
    billing = obj(order.get("billing"))
    customer_id = text(order.get("customer_id"))
    email = text(billing.get("email"))
    if (customer_id in (None, "0")) and email is None:
        return None
    where = country_code(billing.get("country"))
    return CustomerIn(id=customer_id if customer_id != "0" else None, email=email,
                      phone=lenient(text(billing.get("phone")), where),
                      first_name=text(billing.get("first_name")), last_name=text(billing.get("last_name")),
                      country=where)


def _order(data: dict[str, Any]) -> OrderIn:
    lines = [_line(line) for line in items(data.get("line_items"))]
    return OrderIn(
        id=need_id(data, "id", "order"), number=text(data.get("number")), currency=text(data.get("currency")),
        subtotal=sum((money(line.get("subtotal")) or Decimal(0) for line in items(data.get("line_items"))), Decimal(0)),
        shipping=money(data.get("shipping_total")), tax=money(data.get("total_tax")),
        discount=money(data.get("discount_total")), total=money(data.get("total")), lines=lines,
        shipping_address=_address(obj(data.get("shipping"))), billing_address=_address(obj(data.get("billing"))),
    )


class WooCommerceAdapter:
    name = "woocommerce"
    topics: Mapping[str, str] = TOPICS
    subscribe: Sequence[str] = tuple(TOPICS)
    needs_secret = True
    needs_api_url = False

    def ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """The unsigned, form-encoded ``webhook_id=N`` WooCommerce sends when a webhook is saved."""
        if headers.get("x-wc-webhook-signature") or len(body) > 100:
            return False
        try:
            form = parse_qs(body.decode("ascii"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return False
        return list(form) == ["webhook_id"] and form["webhook_id"][0].isdigit()

    async def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        given = headers.get("x-wc-webhook-signature")
        if not given:
            raise Unauthorized("the X-WC-Webhook-Signature header is missing")
        if not base64_hmac_matches(given, body, connection.secrets()):
            raise Unauthorized("X-WC-Webhook-Signature does not match the body signed with this webhook's secret")

    def parse(self, headers: Mapping[str, str], body: bytes, received_at: datetime) -> Delivery:
        topic = headers.get("x-wc-webhook-topic", "").strip()
        if not topic:
            raise Malformed("the X-WC-Webhook-Topic header is missing")
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise Malformed(f"{topic}: expected a JSON object, got {type(payload).__name__}")
        return Delivery("woocommerce", topic, body_digest(body), headers, body, payload, received_at)

    async def normalize(self, delivery: Delivery, memory: Memory) -> Normalized:
        kind = TOPICS.get(delivery.topic)
        if kind is None:
            return Normalized(ignored=f"topic {delivery.topic!r} is not one afterorder uses")
        if set(delivery.payload) <= {"id"}:
            return Normalized(ignored=f"{delivery.topic}: only an id (a deleted resource)")
        if kind == "order":
            return await self._order(delivery, memory)
        if kind == "customer":
            return self._customer(delivery)
        return await self._product(delivery, memory)

    async def _order(self, d: Delivery, memory: Memory) -> Normalized:
        p = d.payload
        order = _order(p)
        status = text(p.get("status")) or ""
        if status not in STATUS_EVENTS:
            return Normalized(ignored=f"order status {status!r} is not one afterorder maps")
        before = await memory.order_status(order.id)
        if before == status:
            return Normalized(ignored=f"order {order.id} is still {status!r}: nothing changed")
        # what the previous status already reported is not news (processing → completed: only shipped)
        reported = set(STATUS_EVENTS.get(before, ())) if before else FIRST_SEEN_SKIPS.get(status, set())
        kinds = [k for k in STATUS_EVENTS[status] if k not in reported]
        customer = _customer_of_order(p)
        events = []
        for kind in kinds:
            when = {
                EventType.ORDER_PLACED: p.get("date_created_gmt"), EventType.ORDER_PAID: p.get("date_paid_gmt"),
                EventType.ORDER_SHIPPED: p.get("date_completed_gmt"),
            }.get(kind) or p.get("date_modified_gmt")
            extra: dict[str, Any] = {}
            if kind == EventType.ORDER_SHIPPED:
                extra["shipment"] = _tracking(p)
            if kind == EventType.ORDER_REFUNDED:
                refunds = items(p.get("refunds"))
                total = sum((abs(money(r.get("total")) or Decimal(0)) for r in refunds), Decimal(0))
                reason = next((text(r.get("reason")) for r in refunds if r.get("reason")), None)
                extra["refund"] = RefundIn(amount=total if refunds else money(p.get("total")), currency=order.currency,
                                           reason=reason)
            events.append(Event(id=f"woocommerce:order:{order.id}:{kind.value}", type=kind,
                                occurred_at=_gmt(when) or _gmt(p.get("date_modified_gmt")) or d.received_at,
                                customer=customer, order=order, **extra))
        remember = [OrderSeen(order.id, status)]
        if not events:
            return Normalized(remember=remember, ignored=f"order {order.id} is {status!r}: no event for that status")
        return Normalized(events, remember=remember)

    def _customer(self, d: Delivery) -> Normalized:
        p = d.payload
        billing = obj(p.get("billing"))
        customer = CustomerIn(id=need_id(p, "id", d.topic), email=text(p.get("email")) or text(billing.get("email")),
                              first_name=text(p.get("first_name")) or text(billing.get("first_name")),
                              last_name=text(p.get("last_name")) or text(billing.get("last_name")),
                              phone=lenient(text(billing.get("phone")), country_code(billing.get("country"))),
                              country=country_code(billing.get("country")))
        kind = EventType.CUSTOMER_CREATED if d.topic == "customer.created" else EventType.CUSTOMER_UPDATED
        return Normalized([Event(id=f"woocommerce:{d.delivery_id}", type=kind,
                                 occurred_at=_gmt(p.get("date_modified_gmt")) or _gmt(p.get("date_created_gmt"))
                                 or d.received_at, customer=customer)])

    async def _product(self, d: Delivery, memory: Memory) -> Normalized:
        p = d.payload
        product_id = need_id(p, "id", d.topic)
        parent = text(p.get("parent_id"))
        stock_status = text(p.get("stock_status"))
        quantity = p.get("stock_quantity") if isinstance(p.get("stock_quantity"), int) else None
        in_stock = stock_status in ("instock", "onbackorder") if stock_status else (
            quantity > 0 if quantity is not None else None)
        product = ProductIn(
            id=parent if parent and parent != "0" else product_id,
            variant_id=product_id if parent and parent != "0" else None, sku=text(p.get("sku")),
            title=html.unescape(text(p.get("name")) or "") or None,
            category=next((html.unescape(text(c.get("name")) or "") for c in items(p.get("categories"))), None),
            tags=[html.unescape(t) for c in items(p.get("tags")) if (t := text(c.get("name")))][:100],
            price=money(p.get("price")), image_url=next((text(i.get("src")) for i in items(p.get("images"))), None),
            url=text(p.get("permalink")), in_stock=in_stock, inventory_quantity=quantity)
        when = _gmt(p.get("date_modified_gmt")) or d.received_at
        events = [Event(id=f"woocommerce:{d.delivery_id}", type=EventType.PRODUCT_UPDATED, occurred_at=when,
                        product=product)]
        before = await memory.item(product_id)
        level = (1 if in_stock else 0) if in_stock is not None else None
        if before is not None and before.levels and sum(before.levels.values()) <= 0 and level:
            events.append(Event(id=f"woocommerce:{d.delivery_id}:restocked", type=EventType.PRODUCT_RESTOCKED,
                                occurred_at=when, product=product))
        remember = [ItemSeen(product_id, product_id=product.id, variant_id=product.variant_id,
                             levels={"": level} if level is not None else {})]
        return Normalized(events, remember=remember)


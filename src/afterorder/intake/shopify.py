"""Shopify webhooks: ``X-Shopify-Hmac-Sha256`` over the raw body, topics mapped to events.

Event ids name the fact, not the request, wherever Shopify gives a natural key, so a fact reported
twice (a retried delivery, or ``orders/fulfilled`` and ``fulfillments/create`` for one parcel) is
stored once: ``shopify:order:<id>:placed``, ``shopify:fulfillment:<id>:delivered``,
``shopify:refund:<id>``.  A fulfillment event (``fulfillment_events/create``) with status
``out_for_delivery`` is ``order.out_for_delivery`` (``shopify:fulfillment:<id>:out_for_delivery``; it
names no carrier, so the order keeps the shipment its fulfillment gave), ``delivered`` is
``order.delivered``; other statuses (in transit, ...) are recorded as ignored.
Updates that can happen many times (checkouts, customers, products,
inventory levels) use the delivery's ``X-Shopify-Webhook-Id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from afterorder.domain import (
    Address,
    CheckoutIn,
    Connection,
    CustomerIn,
    Event,
    EventType,
    ItemSeen,
    LineIn,
    OrderIn,
    ProductIn,
    RefundIn,
    RefundLineIn,
    Remembered,
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
    locale_tag,
    money,
    need,
    need_id,
    obj,
    text,
    timestamp,
)
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.phones import lenient

Reader = Callable[["ShopifyAdapter", Delivery, Memory], Awaitable[Normalized]]

# topic → the event it becomes (fulfillment updates only when the parcel is delivered; a fulfillment
# event also when it is out for delivery: FULFILLMENT_EVENT_STATUS)
TOPICS: dict[str, EventType] = {
    "orders/create": EventType.ORDER_PLACED,
    "orders/paid": EventType.ORDER_PAID,
    "orders/fulfilled": EventType.ORDER_SHIPPED,
    "fulfillments/create": EventType.ORDER_SHIPPED,
    "fulfillments/update": EventType.ORDER_DELIVERED,
    "fulfillment_events/create": EventType.ORDER_DELIVERED,
    "orders/cancelled": EventType.ORDER_CANCELLED,
    "refunds/create": EventType.ORDER_REFUNDED,
    "checkouts/create": EventType.CHECKOUT_UPDATED,
    "checkouts/update": EventType.CHECKOUT_UPDATED,
    "customers/create": EventType.CUSTOMER_CREATED,
    "customers/update": EventType.CUSTOMER_UPDATED,
    "inventory_levels/update": EventType.PRODUCT_RESTOCKED,
    "products/create": EventType.PRODUCT_UPDATED,
    "products/update": EventType.PRODUCT_UPDATED,
}
# the fact an order topic records, for its event id
ORDER_FACT = {"orders/create": "placed", "orders/paid": "paid", "orders/cancelled": "cancelled"}
FAILED_FULFILLMENT = {"cancelled", "error", "failure"}
# a fulfillment event's status → the event it becomes, with the fact that names it
FULFILLMENT_EVENT_STATUS = {"out_for_delivery": (EventType.ORDER_OUT_FOR_DELIVERY, "out_for_delivery"),
                            "delivered": (EventType.ORDER_DELIVERED, "delivered")}


def _address(data: Any) -> Address | None:
    a = obj(data)
    if not a:
        return None
    name = text(a.get("name")) or " ".join(p for p in (text(a.get("first_name")), text(a.get("last_name"))) if p)
    return Address(name=name or None, company=text(a.get("company")), line1=text(a.get("address1")),
                   line2=text(a.get("address2")), city=text(a.get("city")),
                   region=text(a.get("province_code")) or text(a.get("province")), postal_code=text(a.get("zip")),
                   country=country_code(a.get("country_code")), phone=text(a.get("phone")))


def _consent(customer: dict[str, Any], buyer_accepts: Any = None) -> bool | None:
    """Email marketing consent: ``email_marketing_consent.state`` (or the older ``accepts_marketing``).

    An order's ``buyer_accepts_marketing`` only ever adds consent: leaving the box unticked at
    checkout does not unsubscribe someone who subscribed before."""
    state = obj(customer.get("email_marketing_consent")).get("state")
    if isinstance(state, str):
        return state == "subscribed"
    if isinstance(customer.get("accepts_marketing"), bool):
        return bool(customer["accepts_marketing"])
    return True if buyer_accepts is True else None


def _customer(c: dict[str, Any], *, locale: Any = None, email: Any = None, country: Any = None,
              buyer_accepts: Any = None, billing: Any = None) -> CustomerIn | None:
    """A customer object (an order's ``customer`` or a customers/* body) with what the order adds."""
    bill = obj(billing)
    customer_id = text(c.get("id"))
    address = obj(c.get("default_address"))
    customer_email = text(c.get("email")) or text(email)
    if customer_id is None and customer_email is None:
        return None
    where = country_code(country) or country_code(address.get("country_code"))
    return CustomerIn(
        id=customer_id, email=customer_email, phone=lenient(text(c.get("phone")), where),
        first_name=text(c.get("first_name")) or text(bill.get("first_name")),
        last_name=text(c.get("last_name")) or text(bill.get("last_name")),
        locale=locale_tag(locale) or locale_tag(c.get("locale")),
        country=where,
        accepts_marketing=_consent(c, buyer_accepts),
    )


def _presentment(data: dict[str, Any], field: str) -> Decimal | None:
    """The amount in the currency the customer paid in (``<field>_set.presentment_money``)."""
    amount = obj(obj(data.get(f"{field}_set")).get("presentment_money")).get("amount")
    return money(amount) if amount is not None else money(data.get(field))


def _line(data: dict[str, Any]) -> LineIn:
    title = text(data.get("title")) or text(data.get("name")) or text(data.get("presentment_title")) or "(item)"
    return LineIn(product_id=text(data.get("product_id")), sku=text(data.get("sku")), title=title,
                  variant=text(data.get("variant_title")), quantity=max(int(data.get("quantity") or 1), 1),
                  price=_presentment(data, "price") or Decimal(0))


def _order(data: dict[str, Any]) -> OrderIn:
    shipping = _presentment(data, "total_shipping_price")
    if shipping is None:
        shipping = sum((money(s.get("price")) or Decimal(0) for s in items(data.get("shipping_lines"))), Decimal(0))
    return OrderIn(
        id=need_id(data, "id", "order"),
        number=text(data.get("name")) or text(data.get("order_number")),
        currency=text(data.get("presentment_currency")) or text(data.get("currency")),
        subtotal=_presentment(data, "subtotal_price"), shipping=shipping, tax=_presentment(data, "total_tax"),
        discount=_presentment(data, "total_discounts"), total=_presentment(data, "total_price"),
        lines=[_line(line) for line in items(data.get("line_items"))],
        shipping_address=_address(data.get("shipping_address")),
        billing_address=_address(data.get("billing_address")),
    )


def _discount_codes(data: dict[str, Any]) -> dict[str, Any]:
    """The order's coupon codes (``discount_codes[].code``), which mark afterorder's coupons redeemed."""
    codes = [c["code"] for c in data.get("discount_codes") or []
             if isinstance(c, dict) and isinstance(c.get("code"), str)]
    return {"discount_codes": codes} if codes else {}


def _order_customer(data: dict[str, Any]) -> CustomerIn | None:
    customer = obj(data.get("customer"))
    ship = obj(data.get("shipping_address")) or obj(data.get("billing_address"))
    return _customer(customer, locale=data.get("customer_locale"), email=data.get("email") or
                     data.get("contact_email"), country=ship.get("country_code"),
                     buyer_accepts=data.get("buyer_accepts_marketing"), billing=data.get("billing_address"))


def _shipment(fulfillment: dict[str, Any]) -> ShipmentIn:
    numbers = fulfillment.get("tracking_numbers") or [None]
    urls = fulfillment.get("tracking_urls") or [None]
    return ShipmentIn(carrier=text(fulfillment.get("tracking_company")),
                      tracking_number=text(fulfillment.get("tracking_number")) or text(numbers[0]),
                      tracking_url=text(fulfillment.get("tracking_url")) or text(urls[0]))


class ShopifyAdapter:
    name = "shopify"
    topics: Mapping[str, EventType] = TOPICS
    subscribe: Sequence[str] = tuple(TOPICS)
    needs_secret = True
    needs_api_url = False

    def ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    async def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        given = headers.get("x-shopify-hmac-sha256")
        if not given:
            raise Unauthorized("the X-Shopify-Hmac-Sha256 header is missing")
        if not base64_hmac_matches(given, body, connection.secrets()):
            raise Unauthorized("X-Shopify-Hmac-Sha256 does not match the body signed with this store's secret")

    def parse(self, headers: Mapping[str, str], body: bytes, received_at: datetime) -> Delivery:
        topic = headers.get("x-shopify-topic", "").strip()
        if not topic:
            raise Malformed("the X-Shopify-Topic header is missing")
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise Malformed(f"{topic}: expected a JSON object, got {type(payload).__name__}")
        delivery_id = headers.get("x-shopify-webhook-id", "").strip() or body_digest(body)
        return Delivery("shopify", topic, delivery_id, headers, body, payload, received_at)

    async def normalize(self, delivery: Delivery, memory: Memory) -> Normalized:
        reader = READERS.get(delivery.topic)
        if reader is None:
            return Normalized(ignored=f"topic {delivery.topic!r} is not one afterorder uses")
        return await reader(self, delivery, memory)

    # ---- one reader per kind of payload ----

    def _when(self, delivery: Delivery, *values: Any) -> datetime:
        for value in values:
            found = timestamp(value)
            if found is not None:
                return found
        return timestamp(delivery.headers.get("x-shopify-triggered-at")) or delivery.received_at

    async def _order_topic(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        order = _order(p)
        kind = TOPICS[d.topic]
        when = {
            "orders/create": (p.get("processed_at"), p.get("created_at")),
            "orders/cancelled": (p.get("cancelled_at"), p.get("updated_at")),
        }.get(d.topic, (p.get("updated_at"), p.get("processed_at")))
        event = Event(id=f"shopify:order:{order.id}:{ORDER_FACT[d.topic]}", type=kind, occurred_at=self._when(d, *when),
                      customer=_order_customer(p), order=order, properties=_discount_codes(p))
        return Normalized([event])

    async def _order_fulfilled(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        order = _order(p)
        fulfillments = [f for f in items(p.get("fulfillments")) if f.get("status") not in FAILED_FULFILLMENT]
        latest = fulfillments[-1] if fulfillments else {}
        key = f"shopify:fulfillment:{latest['id']}:shipped" if latest.get("id") else f"shopify:order:{order.id}:shipped"
        event = Event(id=key, type=EventType.ORDER_SHIPPED,
                      occurred_at=self._when(d, latest.get("created_at"), p.get("updated_at")),
                      customer=_order_customer(p), order=order, shipment=_shipment(latest) if latest else None)
        return Normalized([event])

    async def _fulfillment(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        fulfillment_id = need_id(p, "id", d.topic)
        order = OrderIn(id=need_id(p, "order_id", d.topic))
        if d.topic == "fulfillments/create":
            if p.get("status") in FAILED_FULFILLMENT:
                return Normalized(ignored=f"fulfillment status {p.get('status')!r}: nothing was shipped")
            return Normalized([Event(id=f"shopify:fulfillment:{fulfillment_id}:shipped", type=EventType.ORDER_SHIPPED,
                                     occurred_at=self._when(d, p.get("created_at"), p.get("updated_at")),
                                     order=order, shipment=_shipment(p))])
        if p.get("shipment_status") != "delivered":
            return Normalized(ignored=f"shipment_status {p.get('shipment_status')!r}: not delivered yet")
        return Normalized([Event(id=f"shopify:fulfillment:{fulfillment_id}:delivered", type=EventType.ORDER_DELIVERED,
                                 occurred_at=self._when(d, p.get("updated_at")), order=order,
                                 shipment=_shipment(p))])

    async def _fulfillment_event(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        status = p.get("status")
        if not isinstance(status, str) or status not in FULFILLMENT_EVENT_STATUS:
            return Normalized(ignored=f"fulfillment event status {status!r}: not out for delivery or delivered yet")
        kind, fact = FULFILLMENT_EVENT_STATUS[status]
        fulfillment_id = need_id(p, "fulfillment_id", d.topic)
        order = OrderIn(id=need_id(p, "order_id", d.topic))
        return Normalized([Event(id=f"shopify:fulfillment:{fulfillment_id}:{fact}", type=kind,
                                 occurred_at=self._when(d, p.get("happened_at"), p.get("created_at")), order=order)])

    async def _refund(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        refund_id = need_id(p, "id", d.topic)
        paid_back = [t for t in items(p.get("transactions"))
                     if t.get("kind") == "refund" and t.get("status") == "success"]
        lines = []
        currency = next((text(t.get("currency")) for t in paid_back if t.get("currency")), None)
        for r in items(p.get("refund_line_items")):
            item = obj(r.get("line_item"))
            subtotal = _presentment(r, "subtotal")
            currency = currency or text(obj(obj(r.get("subtotal_set")).get("presentment_money")).get("currency_code"))
            lines.append(RefundLineIn(product_id=text(item.get("product_id")), sku=text(item.get("sku")),
                                      title=text(item.get("title")) or text(item.get("name")),
                                      quantity=int(r.get("quantity") or 0), amount=subtotal))
        amount = sum((money(t.get("amount")) or Decimal(0) for t in paid_back), Decimal(0)) if paid_back else None
        refund = RefundIn(id=refund_id, amount=amount, currency=currency, reason=text(p.get("note")), lines=lines)
        return Normalized([Event(id=f"shopify:refund:{refund_id}", type=EventType.ORDER_REFUNDED,
                                 occurred_at=self._when(d, p.get("processed_at"), p.get("created_at")),
                                 order=OrderIn(id=need_id(p, "order_id", d.topic)), refund=refund)])

    async def _checkout(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        checkout_id = text(p.get("token")) or need_id(p, "id", d.topic)
        completed = timestamp(p.get("completed_at"))
        checkout = CheckoutIn(id=checkout_id, url=text(p.get("abandoned_checkout_url")),
                              currency=text(p.get("presentment_currency")) or text(p.get("currency")),
                              subtotal=money(p.get("subtotal_price")), total=money(p.get("total_price")),
                              lines=[_line(line) for line in items(p.get("line_items"))], completed_at=completed)
        ship = obj(p.get("shipping_address")) or obj(p.get("billing_address"))
        customer = _customer(obj(p.get("customer")), locale=p.get("customer_locale"), email=p.get("email"),
                             country=ship.get("country_code"), buyer_accepts=p.get("buyer_accepts_marketing"),
                             billing=p.get("billing_address"))
        kind = EventType.CHECKOUT_COMPLETED if completed else EventType.CHECKOUT_UPDATED
        return Normalized([Event(id=f"shopify:{d.delivery_id}", type=kind,
                                 occurred_at=self._when(d, p.get("updated_at"), p.get("created_at")),
                                 customer=customer, checkout=checkout)])

    async def _customer_topic(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        need(p, "id", d.topic)
        customer = _customer(p)
        return Normalized([Event(id=f"shopify:{d.delivery_id}", type=TOPICS[d.topic],
                                 occurred_at=self._when(d, p.get("updated_at"), p.get("created_at")),
                                 customer=customer)])

    async def _inventory(self, d: Delivery, memory: Memory) -> Normalized:
        p = d.payload
        item_id = need_id(p, "inventory_item_id", d.topic)
        location = text(p.get("location_id")) or ""
        available = int(p.get("available") or 0)
        before = await memory.item(item_id)
        levels = {**(before.levels if before else {}), location: available}
        seen = ItemSeen(item_id, levels={location: available})
        was = sum(before.levels.values()) if before and before.levels else None
        now = sum(levels.values())
        if was is None or was > 0 or now <= 0:
            return Normalized(remember=[seen], ignored=f"stock of item {item_id}: {was} → {now}, not a restock")
        product = ProductIn(id=(before.product_id if before else None) or f"inventory-item:{item_id}",
                            variant_id=before.variant_id if before else None, in_stock=True, inventory_quantity=now)
        return Normalized([Event(id=f"shopify:{d.delivery_id}", type=EventType.PRODUCT_RESTOCKED,
                                 occurred_at=self._when(d, p.get("updated_at")), product=product,
                                 properties={"inventory_item_id": item_id, "location_id": location})],
                          remember=[seen])

    async def _product(self, d: Delivery, _memory: Memory) -> Normalized:
        p = d.payload
        product_id = need_id(p, "id", d.topic)
        images = {text(i.get("id")): text(i.get("src")) for i in items(p.get("images"))}
        cover = text(obj(p.get("image")).get("src")) or next(iter(images.values()), None)
        shop = d.headers.get("x-shopify-shop-domain", "").strip()
        url = f"https://{shop}/products/{p['handle']}" if shop and text(p.get("handle")) else None
        tags = [t.strip() for t in (p.get("tags") or "").split(",") if t.strip()] if isinstance(p.get("tags"), str) \
            else []
        base = dict(id=product_id, title=text(p.get("title")), category=text(p.get("product_type")), tags=tags[:100],
                    url=url)
        events: list[Event] = []
        remember: list[Remembered] = []
        for v in items(p.get("variants")) or [{}]:
            tracked = v.get("inventory_management") == "shopify" and v.get("inventory_policy") != "continue"
            quantity = v.get("inventory_quantity")
            variant_id = text(v.get("id"))
            variant_title = text(v.get("title"))
            product = ProductIn(**base, variant_id=variant_id, sku=text(v.get("sku")),
                                variant=None if variant_title == "Default Title" else variant_title,
                                price=money(v.get("price")), image_url=images.get(text(v.get("image_id"))) or cover,
                                in_stock=(int(quantity or 0) > 0) if tracked else True if v else None,
                                inventory_quantity=int(quantity) if isinstance(quantity, int) else None)
            suffix = f":{variant_id}" if variant_id else ""
            events.append(Event(id=f"shopify:{d.delivery_id}{suffix}", type=EventType.PRODUCT_UPDATED,
                                occurred_at=self._when(d, p.get("updated_at"), p.get("created_at")), product=product))
            if text(v.get("inventory_item_id")):
                remember.append(ItemSeen(text(v["inventory_item_id"]) or "", product_id=product_id,
                                         variant_id=variant_id))
        return Normalized(events, remember=remember)


READERS: dict[str, Reader] = {
    "orders/create": ShopifyAdapter._order_topic,
    "orders/paid": ShopifyAdapter._order_topic,
    "orders/cancelled": ShopifyAdapter._order_topic,
    "orders/fulfilled": ShopifyAdapter._order_fulfilled,
    "fulfillments/create": ShopifyAdapter._fulfillment,
    "fulfillments/update": ShopifyAdapter._fulfillment,
    "fulfillment_events/create": ShopifyAdapter._fulfillment_event,
    "refunds/create": ShopifyAdapter._refund,
    "checkouts/create": ShopifyAdapter._checkout,
    "checkouts/update": ShopifyAdapter._checkout,
    "customers/create": ShopifyAdapter._customer_topic,
    "customers/update": ShopifyAdapter._customer_topic,
    "inventory_levels/update": ShopifyAdapter._inventory,
    "products/create": ShopifyAdapter._product,
    "products/update": ShopifyAdapter._product,
}
assert set(READERS) == set(TOPICS)

"""Ecwid webhooks: ids only, signed over ``{eventCreated}.{eventId}``; the order is fetched by REST.

``X-Ecwid-Webhook-Signature`` is base64(HMAC-SHA256(app client secret, f"{eventCreated}.{eventId}"));
the body itself is not signed, so the body's ``storeId`` must be the Ecwid store the afterorder
store connected (the client secret is the app's, shared by every Ecwid store that installed it).
A delivery is recorded and answered at once (``intake.ecwid_webhooks``); ``intake.ecwid_fetch``
then fetches what it names and hands it to ``normalize`` as ``{"event": <webhook>, "entity": <fetched>}``.

What a fetched order becomes (its state now; each fact has its own event id ``ecwid:order:<id>:<fact>``,
so a fact reported by several webhooks — or by the history import — is stored once):

* every order (not ``INCOMPLETE``): order.placed (``placed``);
* paymentStatus PAID: order.paid (``paid``);
* REFUNDED / PARTIALLY_REFUNDED: order.paid, and order.refunded per ``refunds[]`` entry
  (``refund:<n>``; REFUNDED without entries: ``refunded``, the refunded amount);
* CANCELLED: order.cancelled (``cancelled``);
* fulfillmentStatus SHIPPED, OUT_FOR_DELIVERY, READY_FOR_PICKUP: order.shipped (``shipped``, with
  ``trackingNumber`` and the carrier; ``properties.fulfillment_status`` says which of the three);
* OUT_FOR_DELIVERY also: order.out_for_delivery (``out_for_delivery``, after order.shipped: an order
  already shipped gets only the new fact, since the shipped one is stored once; an order first seen
  out for delivery is shipped first, then out for delivery);
* DELIVERED: order.shipped and order.delivered (``delivered``);
* RETURNED: order.refunded (``returned``, no amount: the goods came back, so the flows waiting on
  the order, such as review requests, exit);
* AWAITING_PAYMENT, AWAITING_PROCESSING, PROCESSING, WILL_NOT_DELIVER: nothing more;
* ``unfinished_order.*`` (paymentStatus INCOMPLETE): checkout.updated, an abandoned checkout whose
  id is the ``cartId``; checkout.completed once it became an order;
* ``customer.created`` / ``customer.updated``: the customer with ``acceptMarketing``.

An ``order.updated`` about an order afterorder has not seen before (no earlier delivery remembered) and
placed more than a day earlier leaves out order.placed: connecting a store and then editing a 2019 order
sends no confirmation for it (as WooCommerce's first-seen completed orders).

An order's ``acceptMarketing`` only ever adds consent (as with Shopify's checkout box); a customer
webhook's is the customer's state and can withdraw it.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from afterorder.domain import (
    Address,
    CheckoutIn,
    Connection,
    CustomerIn,
    Event,
    EventType,
    LineIn,
    OrderIn,
    OrderSeen,
    RefundIn,
    ShipmentIn,
)
from afterorder.intake.adapters import (
    Delivery,
    Memory,
    Normalized,
    country_code,
    hmac_sha256,
    items,
    load_json,
    locale_tag,
    money,
    need,
    need_id,
    obj,
    text,
)
from afterorder.intake.errors import Malformed, Unauthorized, UnknownTarget
from afterorder.phones import lenient

# topic → what to fetch for it (None: nothing to fetch, recorded as ignored)
TOPICS: dict[str, str | None] = {
    "order.created": "order",
    "order.updated": "order",
    "order.deleted": None,
    "unfinished_order.created": "unfinished_order",
    "unfinished_order.updated": "unfinished_order",
    "unfinished_order.deleted": None,
    "customer.created": "customer",
    "customer.updated": "customer",
}
PAID = {"PAID", "PARTIALLY_REFUNDED", "REFUNDED"}
SHIPPED = {"SHIPPED", "OUT_FOR_DELIVERY", "READY_FOR_PICKUP", "DELIVERED"}
SIGNATURE_HEADER = "x-ecwid-webhook-signature"
# an order.updated for an order afterorder never saw, placed longer ago than this, is not "placed" now
FIRST_SEEN_WINDOW = timedelta(days=1)


def signature(secret: str, event_created: Any, event_id: Any) -> str:
    """Ecwid's signature of one webhook: base64(HMAC-SHA256(client secret, "{eventCreated}.{eventId}"))."""
    return base64.b64encode(hmac_sha256(secret, f"{event_created}.{event_id}".encode())).decode()


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _date(value: Any) -> datetime | None:
    """Ecwid's ``"2018-05-31 15:08:36 +0000"``."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        raise Malformed(f"{value!r} is not a time as Ecwid writes them (2018-05-31 15:08:36 +0000)") from None


def _split_name(name: str | None, country: str | None) -> tuple[str | None, str | None]:
    """(first, last) from one ``name``: family name first in Japan and China, last elsewhere."""
    if not name:
        return None, None
    parts = name.split(None, 1)
    if len(parts) == 1:
        return parts[0], None
    if country in ("JP", "CN", "TW", "KR"):
        return parts[1], parts[0]
    return parts[0], parts[1]


def _address(person: Any) -> Address | None:
    p = obj(person)
    if not any(text(v) for v in p.values()):
        return None
    return Address(name=text(p.get("name")), company=text(p.get("companyName")), line1=text(p.get("street")),
                   city=text(p.get("city")),
                   region=text(p.get("stateOrProvinceCode")) or text(p.get("stateOrProvinceName")),
                   postal_code=text(p.get("postalCode")), country=country_code(p.get("countryCode")),
                   phone=text(p.get("phone")))


def _variant(item: dict[str, Any]) -> str | None:
    chosen = [f"{text(o.get('name'))}: {text(o.get('value'))}" for o in items(item.get("selectedOptions"))
              if text(o.get("name")) and text(o.get("value"))]
    return ", ".join(chosen)[:255] or None


def _line(item: dict[str, Any]) -> LineIn:
    return LineIn(product_id=text(item.get("productId")), sku=text(item.get("sku")),
                  title=text(item.get("name")) or "(item)", variant=_variant(item),
                  quantity=max(int(item.get("quantity") or 1), 1), price=money(item.get("price")) or Decimal(0),
                  image_url=text(item.get("imageUrl")))


def order_id(order: Mapping[str, Any], fallback: str | None = None) -> str:
    """The id to fetch the order by: ``id`` (current API), else ``orderNumber`` (the 2020 one)."""
    found = text(order.get("id")) or fallback or text(order.get("orderNumber"))
    if found is None:
        raise Malformed("order: the field 'id' is missing")
    return found


def _order(o: dict[str, Any], fallback_id: str | None) -> OrderIn:
    return OrderIn(
        id=order_id(o, fallback_id),
        number=text(o.get("vendorOrderNumber")) or text(o.get("orderNumber")),
        currency=text(o.get("currency")) if len(text(o.get("currency")) or "") == 3 else None,
        subtotal=money(o.get("subtotal")), shipping=money(obj(o.get("shippingOption")).get("shippingRate")),
        tax=money(o.get("tax")), discount=money(o.get("discount")), total=money(o.get("total")),
        lines=[_line(i) for i in items(o.get("items"))],
        shipping_address=_address(o.get("shippingPerson")), billing_address=_address(o.get("billingPerson")),
    )


def _language(o: Mapping[str, Any]) -> str | None:
    """The storefront language the customer shopped in: ``lang``, or the ``lang`` extra field."""
    extra = next((f.get("value") for f in items(o.get("orderExtraFields")) if f.get("id") == "lang"), None)
    return locale_tag(o.get("lang")) or locale_tag(extra)


def _order_customer(o: dict[str, Any]) -> CustomerIn | None:
    email = text(o.get("email"))
    customer_id = text(o.get("customerId"))
    if email is None and customer_id is None:
        return None
    bill = obj(o.get("billingPerson")) or obj(o.get("shippingPerson"))
    country = country_code(bill.get("countryCode"))
    first, last = _split_name(text(bill.get("name")), country)
    return CustomerIn(id=customer_id, email=email, phone=lenient(text(bill.get("phone")), country),
                      first_name=first, last_name=last, locale=_language(o), country=country,
                      accepts_marketing=True if o.get("acceptMarketing") is True else None)


def customer(c: dict[str, Any]) -> CustomerIn:
    """A customer as ``GET /customers/{id}`` answers: its consent is the customer's own state."""
    bill = obj(c.get("billingPerson"))
    country = country_code(bill.get("countryCode"))
    first, last = _split_name(text(bill.get("name")) or text(c.get("name")), country)
    consent = c.get("acceptMarketing")
    return CustomerIn(id=need_id(c, "id", "customer"), email=text(c.get("email")),
                      phone=lenient(text(bill.get("phone")), country), first_name=first, last_name=last,
                      locale=locale_tag(c.get("lang")), country=country,
                      accepts_marketing=consent if isinstance(consent, bool) else None)


def _shipment(o: dict[str, Any]) -> ShipmentIn:
    option = obj(o.get("shippingOption"))
    return ShipmentIn(carrier=text(option.get("shippingCarrierName")) or text(option.get("shippingMethodName")),
                      tracking_number=text(o.get("trackingNumber")), tracking_url=text(o.get("trackingUrl")))


def order_events(o: dict[str, Any], received_at: datetime, fallback_id: str | None = None) -> list[Event]:
    """What one fetched Ecwid order says now, as events with ids naming each fact (the table above)."""
    payment = text(o.get("paymentStatus")) or ""
    fulfillment = text(o.get("fulfillmentStatus")) or ""
    if payment == "INCOMPLETE":
        return []
    order = _order(o, fallback_id)
    who = _order_customer(o)
    created = _epoch(o.get("createTimestamp")) or _date(o.get("createDate")) or received_at
    updated = _epoch(o.get("updateTimestamp")) or _date(o.get("updateDate")) or received_at
    key = f"ecwid:order:{order.id}"
    props: dict[str, Any] = {"payment_status": payment, "fulfillment_status": fulfillment}
    coupon = text(obj(o.get("discountCoupon")).get("code"))
    if coupon:
        props["discount_codes"] = [coupon]

    def event(fact: str, kind: EventType, when: datetime, **parts: Any) -> Event:
        return Event(id=f"{key}:{fact}", type=kind, occurred_at=when, customer=who, order=order, properties=props,
                     **parts)

    found = [event("placed", EventType.ORDER_PLACED, created)]
    if payment in PAID:
        found.append(event("paid", EventType.ORDER_PAID, updated))
    if fulfillment in SHIPPED:
        found.append(event("shipped", EventType.ORDER_SHIPPED, updated, shipment=_shipment(o)))
    if fulfillment == "OUT_FOR_DELIVERY":
        found.append(event("out_for_delivery", EventType.ORDER_OUT_FOR_DELIVERY, updated, shipment=_shipment(o)))
    if fulfillment == "DELIVERED":
        found.append(event("delivered", EventType.ORDER_DELIVERED, updated, shipment=_shipment(o)))
    if payment == "CANCELLED":
        found.append(event("cancelled", EventType.ORDER_CANCELLED, updated))
    if payment in ("REFUNDED", "PARTIALLY_REFUNDED"):
        found.extend(_refunds(o, event, updated, full=payment == "REFUNDED"))
    if fulfillment == "RETURNED":
        found.append(event("returned", EventType.ORDER_REFUNDED, updated,
                           refund=RefundIn(reason="returned (Ecwid fulfillment status RETURNED)")))
    return found


def _refunds(o: dict[str, Any], event: Any, updated: datetime, *, full: bool) -> list[Event]:
    entries = items(o.get("refunds"))
    found: list[Event] = [event(f"refund:{n}", EventType.ORDER_REFUNDED, _date(r.get("date")) or updated,
                                refund=RefundIn(id=str(n), amount=money(r.get("amount")), reason=text(r.get("reason"))))
                          for n, r in enumerate(entries, 1)]
    if not found and full:
        amount = money(o.get("refundedAmount")) or money(o.get("total"))
        found.append(event("refunded", EventType.ORDER_REFUNDED, updated, refund=RefundIn(amount=amount)))
    return found


def checkout_events(o: dict[str, Any], webhook: Mapping[str, Any], received_at: datetime) -> list[Event]:
    """An unfinished order (an abandoned checkout), or the checkout completed when it became an order."""
    data = obj(webhook.get("data"))
    checkout_id = text(data.get("cartId")) or order_id(o, text(data.get("orderId")))
    updated = _epoch(o.get("updateTimestamp")) or _date(o.get("updateDate")) or received_at
    finished = (text(o.get("paymentStatus")) or "INCOMPLETE") != "INCOMPLETE"
    checkout = CheckoutIn(id=checkout_id, currency=_order(o, checkout_id).currency, subtotal=money(o.get("subtotal")),
                          total=money(o.get("total")), lines=[_line(i) for i in items(o.get("items"))],
                          completed_at=updated if finished else None)
    kind = EventType.CHECKOUT_COMPLETED if finished else EventType.CHECKOUT_UPDATED
    return [Event(id=f"ecwid:{need_id(webhook, 'eventId', 'webhook')}", type=kind, occurred_at=updated,
                  customer=_order_customer(o), checkout=checkout)]


class EcwidAdapter:
    name = "ecwid"
    topics: Mapping[str, str | None] = TOPICS
    subscribe: Sequence[str] = tuple(t for t, fetch in TOPICS.items() if fetch)
    needs_secret = True
    needs_api_url = False

    def ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    async def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        if not given:
            raise Unauthorized("the X-Ecwid-Webhook-Signature header is missing")
        payload = load_json(body)
        created = need(payload, "eventCreated", "webhook")
        event_id = need(payload, "eventId", "webhook")
        matches = False
        for secret in connection.secrets():
            matches |= hmac.compare_digest(given.encode(), signature(secret, created, event_id).encode())
        if not matches:
            raise Unauthorized("X-Ecwid-Webhook-Signature does not match eventCreated.eventId signed with this "
                               "store's client secret")

    def parse(self, headers: Mapping[str, str], body: bytes, received_at: datetime) -> Delivery:
        payload = load_json(body)
        topic = text(need(payload, "eventType", "webhook")) or ""
        event_id = need_id(payload, "eventId", "webhook")
        return Delivery("ecwid", topic, event_id, headers, body, payload, received_at)

    def check_store(self, delivery: Delivery, connection: Connection) -> None:
        """The webhook is about the Ecwid store this afterorder store connected (``UnknownTarget`` if not)."""
        given = need_id(delivery.payload, "storeId", "webhook")
        if given != connection.account_id:
            raise UnknownTarget(f"storeId {given} is not the Ecwid store connected here")

    def entity(self, delivery: Delivery) -> str | None:
        """The id to fetch for this delivery (None: the topic needs no fetch)."""
        kind = TOPICS.get(delivery.topic)
        if kind is None:
            return None
        p = delivery.payload
        if kind == "customer":
            return need_id(p, "entityId", delivery.topic)
        return text(obj(p.get("data")).get("orderId")) or need_id(p, "entityId", delivery.topic)

    async def normalize(self, delivery: Delivery, memory: Memory) -> Normalized:
        """``delivery.payload`` is ``{"event": <webhook body>, "entity": <what Ecwid's API answered>}``."""
        kind = TOPICS.get(delivery.topic)
        if kind is None:
            return Normalized(ignored=f"topic {delivery.topic!r} is not one afterorder uses")
        webhook = obj(delivery.payload.get("event"))
        fetched = need(delivery.payload, "entity", delivery.topic)
        if kind == "customer":
            kinds = {"customer.created": EventType.CUSTOMER_CREATED, "customer.updated": EventType.CUSTOMER_UPDATED}
            when = _epoch(webhook.get("eventCreated")) or delivery.received_at
            return Normalized([Event(id=f"ecwid:{delivery.delivery_id}", type=kinds[delivery.topic], occurred_at=when,
                                     customer=customer(fetched))])
        if kind == "unfinished_order":
            return Normalized(checkout_events(fetched, webhook, delivery.received_at))
        found = order_events(fetched, delivery.received_at, text(obj(webhook.get("data")).get("orderId")))
        if not found:
            return Normalized(ignored="the order is unfinished (paymentStatus INCOMPLETE)")
        placed = found[0]
        seen = [OrderSeen(placed.order.id if placed.order else "", text(fetched.get("paymentStatus")) or "")]
        if delivery.topic == "order.updated" and placed.occurred_at < delivery.received_at - FIRST_SEEN_WINDOW \
                and placed.order is not None and await memory.order_status(placed.order.id) is None:
            found = found[1:]  # an old order first seen now: history, no confirmation for it
        return Normalized(found, remember=seen, ignored=None if found else "an old order first seen now")

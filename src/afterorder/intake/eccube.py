"""EC-CUBE 4 (its Web API plugin, Api42): webhooks name entities only; the order is fetched by GraphQL.

The plugin posts, after each request that changed products, orders or customers, a JSON array of
``{"entity": "order"|"customer"|"product", "id": <int>, "action": "created"|"updated"|"deleted"}``
with ``X-ECCUBE-Signature`` = lowercase hex HMAC-SHA256(the webhook's secret, raw body) and
``X-ECCUBE-URL`` (the shop's URL).  The secret is the shop's own (not an app's shared one), so a
body that verifies is from the connected shop.  The plugin never retries and the body has no
event id: ``intake.eccube_webhooks`` records each notice to fetch (a notice already waiting to be
fetched is a duplicate), ``intake.eccube_fetch`` fetches it (``intake.eccube_api``) and hands it to
``normalize`` as ``{"notice": {...}, "entity": <the GraphQL order or customer>}``.

What a fetched order becomes (its state now; each fact has its own event id
``eccube:order:<id>:<fact>``, so fetching the same state twice stores nothing twice):

* every order but 決済処理中 (7, payment under way) and 購入処理中 (8, still a cart): order.placed
  (``placed``, at ``order_date``);
* ``payment_date`` set, or 入金済み (6) / 発送済み (5): order.paid (``paid``);
* 発送済み (5): order.shipped per Shipping (``shipped:<shipping id>``, its ``tracking_number`` and
  ``shipping_delivery_name`` as the carrier, お届け希望日 as the expected delivery);
* 注文取消し (3): order.cancelled (``cancelled``);
* 返品 (9): order.refunded (``returned``, no amount: EC-CUBE keeps none), after order.shipped for
  each Shipping that has a ``shipping_date``;
* 新規受付 (1), 対応中 (4): nothing more.  EC-CUBE has no "delivered" status.

The customer comes with the order (``Customer``; a guest order has the order's own name and email);
``mailmaga_flg`` (the mail-magazine plugin's field: 1 yes, 0 no) is the customer's consent, added
only from an order (as Shopify's checkout box) and the customer's state from a customer notice.
Product notices and ``deleted`` actions are recorded as ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from afterorder.domain import (
    Address,
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
    items,
    load_json,
    money,
    need,
    obj,
    text,
    timestamp,
)
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.phones import lenient

SIGNATURE_HEADER = "x-eccube-signature"
URL_HEADER = "x-eccube-url"
# entity.action → what to fetch (None: nothing, recorded as ignored)
TOPICS: dict[str, str | None] = {
    "order.created": "order", "order.updated": "order", "order.deleted": None,
    "customer.created": "customer", "customer.updated": "customer", "customer.deleted": None,
    "product.created": None, "product.updated": None, "product.deleted": None,
}
MAX_NOTICES = 1000  # one request of the shop's admin changing this many entities at once

# OrderStatus ids (ec-cube src/Eccube/Entity/Master/OrderStatus.php)
NEW, CANCEL, IN_PROGRESS, DELIVERED, PAID, PENDING, PROCESSING, RETURNED = 1, 3, 4, 5, 6, 7, 8, 9
NOT_AN_ORDER_YET = {PENDING, PROCESSING}
PRODUCT_ROW = 1  # OrderItemType: 1 商品 (2 送料, 3 手数料, 4 値引き, 5 税, 6 ポイント are not lines)
JAPAN = "392"  # mtb_country ids are ISO 3166-1 numeric
FIRST_SEEN_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Notice:
    """One ``{entity, id, action}`` of a webhook body."""

    entity: str
    id: str
    action: str

    @property
    def topic(self) -> str:
        return f"{self.entity}.{self.action}"

    def as_json(self) -> dict[str, str]:
        return {"entity": self.entity, "id": self.id, "action": self.action}


def signature(secret: str, body: bytes) -> str:
    """The plugin's signature: ``hash_hmac('sha256', $payload, $secret)``, lowercase hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notices(body: bytes) -> list[Notice]:
    """The body's notices; ``Malformed`` naming the entry and field that is wrong."""
    payload = load_json(body)
    if not isinstance(payload, list):
        raise Malformed(f"webhook: expected a JSON array of {{entity, id, action}}, got {type(payload).__name__}")
    if len(payload) > MAX_NOTICES:
        raise Malformed(f"webhook: at most {MAX_NOTICES} notices in one delivery, got {len(payload)}")
    found = []
    for n, entry in enumerate(payload):
        where = f"webhook[{n}]"
        entity, action = text(need(entry, "entity", where)), text(need(entry, "action", where))
        given = need(entry, "id", where)
        if not isinstance(given, int | str) or isinstance(given, bool) or not str(given).isdigit():
            raise Malformed(f"{where}: the field 'id' is not an id")
        if entity is None or action is None or len(entity) > 32 or len(action) > 32:
            raise Malformed(f"{where}: 'entity' and 'action' must be short strings")
        found.append(Notice(entity, str(given), action))
    return found


def _time(value: Any, field: str) -> datetime | None:
    try:
        return timestamp(value)
    except Malformed as exc:
        raise Malformed(f"{field}: {exc.message}") from None


def _joined(*parts: Any) -> str | None:
    return " ".join(p for p in (text(v) for v in parts) if p) or None


def _country(o: Mapping[str, Any]) -> str | None:
    country = text(obj(o.get("Country")).get("id"))
    return "JP" if country in (None, JAPAN) else None  # EC-CUBE sells in Japan unless a country is set


def _address(a: Mapping[str, Any]) -> Address | None:
    if not any(text(a.get(k)) for k in ("addr01", "addr02", "postal_code", "name01")):
        return None
    return Address(name=_joined(a.get("name01"), a.get("name02")), company=text(a.get("company_name")),
                   line1=text(a.get("addr02")), city=text(a.get("addr01")), region=text(obj(a.get("Pref")).get("name")),
                   postal_code=text(a.get("postal_code")), country=_country(a), phone=text(a.get("phone_number")))


def _line(item: Mapping[str, Any]) -> LineIn:
    price = (money(item.get("price")) or Decimal(0)) + (money(item.get("tax")) or Decimal(0))  # as the shop shows it
    variant = " / ".join(v for v in (text(item.get("class_category_name1")), text(item.get("class_category_name2")))
                         if v)
    return LineIn(product_id=text(obj(item.get("Product")).get("id")), sku=text(item.get("product_code")),
                  title=text(item.get("product_name")) or "(item)", variant=variant[:255] or None,
                  quantity=max(int(Decimal(str(item.get("quantity") or 1))), 1), price=max(price, Decimal(0)))


def _order(o: Mapping[str, Any]) -> OrderIn:
    order_id = text(need(o, "id", "order"))
    assert order_id is not None
    currency = text(o.get("currency_code"))
    lines = [_line(i) for i in items(o.get("OrderItems"))
             if text(obj(i.get("OrderItemType")).get("id")) in (None, str(PRODUCT_ROW))]
    shipping = next(iter(items(o.get("Shippings"))), {})
    return OrderIn(id=order_id, number=text(o.get("order_no")),
                   currency=currency if currency and len(currency) == 3 else "JPY",
                   subtotal=money(o.get("subtotal")), shipping=money(o.get("delivery_fee_total")),
                   tax=money(o.get("tax")), discount=money(o.get("discount")),
                   total=money(o.get("payment_total")) if o.get("payment_total") is not None else money(o.get("total")),
                   lines=lines, shipping_address=_address(shipping), billing_address=_address(o))


def _consent(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    return None


def _order_customer(o: Mapping[str, Any]) -> CustomerIn | None:
    member = obj(o.get("Customer"))
    email = text(o.get("email")) or text(member.get("email"))
    if email is None and not member:
        return None
    country = _country(o)
    consent = _consent(member.get("mailmaga_flg"))
    return CustomerIn(id=text(member.get("id")), email=email.lower() if email else None,
                      phone=lenient(text(o.get("phone_number")), country), first_name=text(o.get("name02")),
                      last_name=text(o.get("name01")), locale="ja" if country == "JP" else None, country=country,
                      region=text(obj(o.get("Pref")).get("name")), accepts_marketing=True if consent else None)


def customer(c: Mapping[str, Any]) -> CustomerIn:
    """A customer as ``customer(id)`` answers: ``mailmaga_flg`` is the customer's own state (None: unknown)."""
    customer_id = text(need(c, "id", "customer"))
    email = text(c.get("email"))
    consent = _consent(c.get("mailmaga_flg"))
    if text(obj(c.get("Status")).get("id")) == "3":  # 退会: the customer left the shop
        consent = False if consent is not None else None
    return CustomerIn(id=customer_id, email=email.lower() if email else None,
                      phone=lenient(text(c.get("phone_number")), "JP"), first_name=text(c.get("name02")),
                      last_name=text(c.get("name01")), locale="ja", country="JP",
                      region=text(obj(c.get("Pref")).get("name")), accepts_marketing=consent)


def _shipment(s: Mapping[str, Any]) -> ShipmentIn:
    delivery = obj(s.get("Delivery"))
    expected = _time(s.get("shipping_delivery_date"), "shipping_delivery_date")
    return ShipmentIn(carrier=text(s.get("shipping_delivery_name")) or text(delivery.get("name")),
                      tracking_number=text(s.get("tracking_number")), tracking_url=text(delivery.get("confirm_url")),
                      estimated_delivery=expected)


def status_of(o: Mapping[str, Any]) -> int | None:
    found = text(obj(o.get("OrderStatus")).get("id"))
    return int(found) if found and found.isdigit() else None


def order_events(o: Mapping[str, Any], received_at: datetime) -> list[Event]:
    """What one fetched EC-CUBE order says now, as events with ids naming each fact (the list above)."""
    status = status_of(o)
    if status in NOT_AN_ORDER_YET:
        return []
    order = _order(o)
    who = _order_customer(o)
    placed = _time(o.get("order_date"), "order_date") or _time(o.get("create_date"), "create_date") or received_at
    updated = _time(o.get("update_date"), "update_date") or received_at
    key = f"eccube:order:{order.id}"
    props: dict[str, Any] = {"order_status": status, "payment_method": text(o.get("payment_method"))}

    def event(fact: str, kind: EventType, when: datetime, **parts: Any) -> Event:
        return Event(id=f"{key}:{fact}", type=kind, occurred_at=when, customer=who, order=order, properties=props,
                     **parts)

    found = [event("placed", EventType.ORDER_PLACED, placed)]
    paid_at = _time(o.get("payment_date"), "payment_date")
    if paid_at is not None or status in (PAID, DELIVERED):
        found.append(event("paid", EventType.ORDER_PAID, paid_at or updated))
    for s in items(o.get("Shippings")) or [{}]:
        shipped_at = _time(s.get("shipping_date"), "shipping_date")
        if status == DELIVERED or (status == RETURNED and shipped_at is not None):
            found.append(event(f"shipped:{text(s.get('id')) or 0}", EventType.ORDER_SHIPPED, shipped_at or updated,
                               shipment=_shipment(s)))
    if status == CANCEL:
        found.append(event("cancelled", EventType.ORDER_CANCELLED, updated))
    if status == RETURNED:
        found.append(event("returned", EventType.ORDER_REFUNDED, updated,
                           refund=RefundIn(reason="returned (EC-CUBE order status 返品)")))
    return found


class EccubeAdapter:
    name = "eccube"
    topics: Mapping[str, str | None] = TOPICS
    subscribe: Sequence[str] = tuple(t for t, fetch in TOPICS.items() if fetch)
    needs_secret = True
    needs_api_url = True

    def ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    async def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        given = headers.get(SIGNATURE_HEADER, "").strip().lower()
        if not given:
            raise Unauthorized("the X-ECCUBE-Signature header is missing (set the webhook's secret in EC-CUBE)")
        matches = False
        for secret in connection.secrets():
            matches |= hmac.compare_digest(given.encode(), signature(secret, body).encode())
        if not matches:
            raise Unauthorized("X-ECCUBE-Signature does not match the body signed with this store's webhook secret")

    def parse(self, headers: Mapping[str, str], body: bytes, received_at: datetime) -> Delivery:
        """The whole delivery (its notices are read with ``notices``)."""
        listed = notices(body)
        topic = listed[0].topic if len(listed) == 1 else "webhook"
        return Delivery("eccube", topic, hashlib.sha256(body).hexdigest()[:32], headers, body,
                        [n.as_json() for n in listed], received_at)

    async def normalize(self, delivery: Delivery, memory: Memory) -> Normalized:
        """``delivery.payload`` is ``{"notice": {entity, id, action}, "entity": <what the GraphQL API answered>}``."""
        kind = TOPICS.get(delivery.topic)
        if kind is None:
            return Normalized(ignored=f"topic {delivery.topic!r} is not one afterorder uses")
        fetched = need(delivery.payload, "entity", delivery.topic)
        if kind == "customer":
            kinds = {"customer.created": EventType.CUSTOMER_CREATED, "customer.updated": EventType.CUSTOMER_UPDATED}
            who = customer(fetched)
            when = _time(fetched.get("update_date"), "update_date") or delivery.received_at
            return Normalized([Event(id=f"eccube:customer:{who.id}:{when.isoformat()}", type=kinds[delivery.topic],
                                     occurred_at=when, customer=who)])
        found = order_events(fetched, delivery.received_at)
        if not found:
            return Normalized(ignored="not an order yet (EC-CUBE status 決済処理中 or 購入処理中)")
        placed = found[0]
        order_id = placed.order.id if placed.order else ""
        seen = [OrderSeen(order_id, str(status_of(fetched) or ""))]
        if delivery.topic == "order.updated" and placed.occurred_at < delivery.received_at - FIRST_SEEN_WINDOW \
                and await memory.order_status(order_id) is None:
            found = found[1:]  # an old order first seen now: history, no confirmation for it
        return Normalized(found, remember=seen, ignored=None if found else "an old order first seen now")

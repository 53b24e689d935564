"""Saleor webhooks: a detached JWS (RS256, unencoded payload) or the older hex HMAC.

``Saleor-Signature`` is either ``b64url(header)..b64url(signature)`` (RFC 7797: the signing input
is ``b64url(header) + "." + body``, the body itself is not encoded), checked with the public key
named by ``kid`` from ``<origin of Saleor-Api-Url>/.well-known/jwks.json``, or, for apps that set
a secret key, the lowercase hex HMAC-SHA256 of the body.  The ``Saleor-Api-Url`` origin must be
the one the store connected with: otherwise anyone could point us at a key set of their own.

Payloads are read in the subscription shape (``{"order": {...}}`` with camelCase GraphQL fields);
the snake_case shape of Saleor's built-in payloads is read too (``ORDER_FULFILLMENT_UPDATE`` of
the SMTP app).  The README gives a subscription query that asks for every field used here.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from afterorder.domain import (
    Address,
    CheckoutIn,
    Connection,
    CustomerIn,
    Event,
    EventType,
    LineIn,
    OrderIn,
    ProductIn,
    RefundIn,
    ShipmentIn,
)
from afterorder.intake.adapters import (
    Delivery,
    Memory,
    Normalized,
    body_digest,
    country_code,
    hmac_sha256,
    items,
    load_json,
    locale_tag,
    money,
    need_id,
    obj,
    text,
    timestamp,
)
from afterorder.intake.errors import Malformed, Unauthorized

TOPICS: dict[str, EventType] = {
    "ORDER_CREATED": EventType.ORDER_PLACED,
    "ORDER_FULLY_PAID": EventType.ORDER_PAID,
    "ORDER_FULFILLED": EventType.ORDER_SHIPPED,
    "ORDER_FULFILLMENT_UPDATE": EventType.ORDER_SHIPPED,
    "ORDER_REFUNDED": EventType.ORDER_REFUNDED,
    "ORDER_CANCELLED": EventType.ORDER_CANCELLED,
    "CHECKOUT_UPDATED": EventType.CHECKOUT_UPDATED,
    "CUSTOMER_CREATED": EventType.CUSTOMER_CREATED,
    "PRODUCT_VARIANT_BACK_IN_STOCK": EventType.PRODUCT_RESTOCKED,
}
# once per order: the event id is the fact itself
ORDER_FACT = {"ORDER_CREATED": "placed", "ORDER_FULLY_PAID": "paid", "ORDER_CANCELLED": "cancelled"}
JWKS_PATH = "/.well-known/jwks.json"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-case, default ports left out."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    port = parts.port
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class JwksKeys:
    """Saleor's public keys, fetched from ``<origin>/.well-known/jwks.json`` and cached per origin.

    An unknown ``kid`` fetches the key set again once (Saleor rotated its key); the HTTP client is
    injected so tests and operators control timeouts and proxies."""

    def __init__(self, http: httpx.AsyncClient | None = None, *, ttl: float = 3600.0) -> None:
        self._http = http
        self._ttl = ttl
        self._keys: dict[str, tuple[float, dict[str, RSAPublicKey]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        return self._http

    async def key(self, at_origin: str, kid: str) -> RSAPublicKey | None:
        cached = self._keys.get(at_origin)
        if cached and time.monotonic() < cached[0] and kid in cached[1]:
            return cached[1][kid]
        lock = self._locks.setdefault(at_origin, asyncio.Lock())
        async with lock:
            cached = self._keys.get(at_origin)
            if cached and time.monotonic() < cached[0] and kid in cached[1]:
                return cached[1][kid]
            keys = await self._fetch(at_origin)
            self._keys[at_origin] = (time.monotonic() + self._ttl, keys)
        return keys.get(kid)

    async def _fetch(self, at_origin: str) -> dict[str, RSAPublicKey]:
        url = at_origin + JWKS_PATH
        try:
            response = await self._client().get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthorized(f"cannot read Saleor's public keys from {url}: {exc}") from None
        keys: dict[str, RSAPublicKey] = {}
        for jwk in items(obj(document).get("keys")):
            if jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
                continue
            try:
                numbers = RSAPublicNumbers(int.from_bytes(_b64url(jwk["e"]), "big"),
                                           int.from_bytes(_b64url(jwk["n"]), "big"))
                keys[jwk["kid"]] = numbers.public_key()
            except (KeyError, TypeError, ValueError):
                continue
        return keys

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def _g(data: Any, *names: str) -> Any:
    """The first of ``names`` present (Saleor's GraphQL camelCase or its snake_case payloads)."""
    d = obj(data)
    for name in names:
        if d.get(name) is not None:
            return d[name]
    return None


def _gross(data: Any, camel: str, snake: str) -> Decimal | None:
    nested = _g(data, camel)
    if isinstance(nested, dict):
        found = obj(nested.get("gross")).get("amount") if "gross" in nested else nested.get("amount")
        return money(found)
    return money(_g(data, snake))


def _address(a: Any) -> Address | None:
    a = obj(a)
    if not a:
        return None
    country = a.get("country")
    code = obj(country).get("code") if isinstance(country, dict) else country
    first, last = text(_g(a, "firstName", "first_name")), text(_g(a, "lastName", "last_name"))
    return Address(name=" ".join(p for p in (first, last) if p) or None,
                   company=text(_g(a, "companyName", "company_name")),
                   line1=text(_g(a, "streetAddress1", "street_address_1")),
                   line2=text(_g(a, "streetAddress2", "street_address_2")), city=text(a.get("city")),
                   region=text(_g(a, "countryArea", "country_area")),
                   postal_code=text(_g(a, "postalCode", "postal_code")),
                   country=country_code(code), phone=text(a.get("phone")))


def _line(data: dict[str, Any]) -> LineIn:
    unit = obj(data.get("unitPrice"))
    price = money(obj(unit.get("gross")).get("amount")) if unit else money(data.get("unit_price_gross_amount"))
    variant = obj(data.get("variant"))
    product_id = text(obj(variant.get("product")).get("id")) or text(obj(data.get("product")).get("id"))
    image = text(obj(data.get("thumbnail")).get("url"))
    return LineIn(product_id=product_id, sku=text(_g(data, "productSku", "product_sku")),
                  title=text(_g(data, "productName", "product_name")) or "(item)",
                  variant=text(_g(data, "variantName", "variant_name")),
                  quantity=max(int(data.get("quantity") or 1), 1),
                  price=price or Decimal(0), image_url=image)


def _order(o: dict[str, Any]) -> OrderIn:
    total = obj(o.get("total"))
    currency = text(obj(total.get("gross")).get("currency")) or text(o.get("currency"))
    tax = money(obj(total.get("tax")).get("amount")) if total else money(o.get("tax_amount"))
    return OrderIn(id=need_id(o, "id", "order"), number=text(o.get("number")), currency=currency,
                   subtotal=_gross(o, "subtotal", "subtotal_gross_amount"),
                   shipping=_gross(o, "shippingPrice", "shipping_price_gross_amount"), tax=tax,
                   discount=money(o.get("discount_amount")), total=_gross(o, "total", "total_gross_amount"),
                   lines=[_line(line) for line in items(o.get("lines"))],
                   shipping_address=_address(_g(o, "shippingAddress", "shipping_address")),
                   billing_address=_address(_g(o, "billingAddress", "billing_address")))


def _customer(user: Any, *, email: Any = None, locale: Any = None, address: Address | None = None) -> CustomerIn | None:
    u = obj(user)
    found_email = text(u.get("email")) or text(email)
    user_id = text(u.get("id"))
    if found_email is None and user_id is None:
        return None
    default = _address(_g(u, "defaultShippingAddress", "defaultBillingAddress"))
    return CustomerIn(id=user_id, email=found_email, first_name=text(_g(u, "firstName", "first_name")),
                      last_name=text(_g(u, "lastName", "last_name")),
                      locale=locale_tag(locale) or locale_tag(_g(u, "languageCode", "language_code")),
                      country=(address.country if address else None) or (default.country if default else None))


class SaleorAdapter:
    name = "saleor"
    topics: Mapping[str, EventType] = TOPICS
    subscribe: Sequence[str] = tuple(TOPICS)
    needs_secret = False
    needs_api_url = True

    def __init__(self, keys: JwksKeys | None = None) -> None:
        self.keys = keys or JwksKeys()

    def ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    async def verify(self, headers: Mapping[str, str], body: bytes, connection: Connection) -> None:
        signature = headers.get("saleor-signature", "").strip()
        if not signature:
            raise Unauthorized("the Saleor-Signature header is missing")
        if ".." in signature:
            await self._verify_jws(signature, headers, body, connection)
            return
        secrets = connection.secrets()
        if not secrets:
            raise Unauthorized("Saleor-Signature is an HMAC but this store connected without a secret key")
        given = signature.lower().encode()
        if not any(hmac.compare_digest(given, hmac_sha256(s, body).hex().encode()) for s in secrets):
            raise Unauthorized("Saleor-Signature does not match the body signed with this store's secret key")

    async def _verify_jws(self, signature: str, headers: Mapping[str, str], body: bytes,
                          connection: Connection) -> None:
        api_url = headers.get("saleor-api-url", "").strip()
        if not api_url:
            raise Unauthorized("the Saleor-Api-Url header is missing")
        if not connection.api_url:
            raise Unauthorized("this store connected Saleor without --api-url; connect again with it")
        try:
            sender = origin(api_url)
        except ValueError as exc:
            raise Unauthorized(f"Saleor-Api-Url: {exc}") from None
        if sender != origin(connection.api_url):
            raise Unauthorized(f"Saleor-Api-Url {api_url!r} is not the Saleor this store connected with")
        encoded_header, _, encoded_signature = signature.partition("..")
        try:
            header = json.loads(_b64url(encoded_header))
            raw_signature = _b64url(encoded_signature)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise Unauthorized("Saleor-Signature is not a detached JWS") from None
        if not isinstance(header, dict) or header.get("alg") != "RS256" or header.get("b64") is not False \
                or "b64" not in (header.get("crit") or []) or not isinstance(header.get("kid"), str):
            raise Unauthorized('Saleor-Signature: expected {"alg": "RS256", "b64": false, "crit": ["b64"], "kid"}')
        key = await self.keys.key(sender, header["kid"])
        if key is None:
            raise Unauthorized(f"Saleor-Signature: no key {header['kid']!r} in {sender}{JWKS_PATH}")
        try:
            key.verify(raw_signature, encoded_header.encode() + b"." + body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise Unauthorized("Saleor-Signature does not match the body") from None

    def parse(self, headers: Mapping[str, str], body: bytes, received_at: datetime) -> Delivery:
        topic = headers.get("saleor-event", "").strip().upper()
        if not topic:
            raise Malformed("the Saleor-Event header is missing")
        payload = load_json(body)
        if isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], dict):
            payload = {"order" if topic.startswith("ORDER_") else "data": payload[0]}  # non-subscription payloads
        if not isinstance(payload, dict):
            raise Malformed(f"{topic}: expected a JSON object, got {type(payload).__name__}")
        return Delivery("saleor", topic, body_digest(body), headers, body, payload, received_at)

    async def normalize(self, delivery: Delivery, memory: Memory) -> Normalized:
        kind = TOPICS.get(delivery.topic)
        if kind is None:
            return Normalized(ignored=f"event {delivery.topic!r} is not one afterorder uses")
        p = delivery.payload
        when = timestamp(_g(p, "issuedAt", "issued_at")) or delivery.received_at
        digest = delivery.delivery_id
        if kind.is_order_event:
            return Normalized([self._order_event(delivery, kind, when)])
        if kind == EventType.CHECKOUT_UPDATED:
            return Normalized([self._checkout(p, when, digest)])
        if kind == EventType.CUSTOMER_CREATED:
            user = obj(_g(p, "user", "customer"))
            customer = _customer(user)
            if customer is None:
                raise Malformed("CUSTOMER_CREATED: the payload has no user with an id or email")
            return Normalized([Event(id=f"saleor:customer:{customer.id or customer.email}:created", type=kind,
                                     occurred_at=when, customer=customer)])
        variant = obj(_g(p, "productVariant", "product_variant"))
        product = obj(variant.get("product"))
        variant_id = need_id(variant, "id", "PRODUCT_VARIANT_BACK_IN_STOCK productVariant")
        restocked = ProductIn(id=text(product.get("id")) or variant_id, variant_id=variant_id,
                              sku=text(variant.get("sku")),
                              title=text(product.get("name")), variant=text(variant.get("name")),
                              category=text(obj(product.get("category")).get("name")),
                              image_url=text(obj(product.get("thumbnail")).get("url")), in_stock=True)
        return Normalized([Event(id=f"saleor:{digest}", type=kind, occurred_at=when, product=restocked)])

    def _order_event(self, d: Delivery, kind: EventType, when: datetime) -> Event:
        o = obj(d.payload.get("order"))
        if not o:
            raise Malformed(f"{d.topic}: the payload has no 'order' object")
        order = _order(o)
        customer = _customer(o.get("user"), email=_g(o, "userEmail", "user_email", "email"),
                             locale=_g(o, "languageCodeEnum", "languageCode", "language_code"),
                             address=order.shipping_address)
        extra: dict[str, Any] = {}
        if d.topic == "ORDER_CREATED":
            when = timestamp(o.get("created")) or when
        if d.topic in ORDER_FACT:
            event_id = f"saleor:order:{order.id}:{ORDER_FACT[d.topic]}"
        else:
            event_id = f"saleor:order:{order.id}:{kind.value.split('.')[1]}:{d.delivery_id}"
        if kind == EventType.ORDER_SHIPPED:
            fulfillment = obj(d.payload.get("fulfillment")) or next(iter(items(o.get("fulfillments"))[::-1]), {})
            number = text(_g(fulfillment, "trackingNumber", "tracking_number"))
            is_url = bool(_g(fulfillment, "isTrackingNumberUrl", "is_tracking_number_url")) or \
                bool(number and number.startswith(("http://", "https://")))
            extra["shipment"] = ShipmentIn(tracking_number=None if is_url else number,
                                           tracking_url=number if is_url else None)
        if kind == EventType.ORDER_REFUNDED:
            refunded = obj(o.get("totalRefunded"))
            amount = money(refunded.get("amount")) if refunded else None
            if amount is None:
                found = [money(obj(t.get("refundedAmount")).get("amount")) for t in items(o.get("transactions"))]
                amount = sum((f for f in found if f is not None), Decimal(0)) if any(found) else None
            extra["refund"] = RefundIn(amount=amount, currency=order.currency)
        return Event(id=event_id, type=kind, occurred_at=when, customer=customer, order=order, **extra)

    def _checkout(self, p: dict[str, Any], when: datetime, digest: str) -> Event:
        c = obj(p.get("checkout"))
        if not c:
            raise Malformed("CHECKOUT_UPDATED: the payload has no 'checkout' object")
        lines = []
        for line in items(c.get("lines")):
            variant = obj(line.get("variant"))
            product = obj(variant.get("product"))
            unit = money(obj(obj(line.get("unitPrice")).get("gross")).get("amount"))
            lines.append(LineIn(product_id=text(product.get("id")), sku=text(variant.get("sku")),
                                title=text(product.get("name")) or text(variant.get("name")) or "(item)",
                                variant=text(variant.get("name")), quantity=max(int(line.get("quantity") or 1), 1),
                                price=unit or Decimal(0), image_url=text(obj(product.get("thumbnail")).get("url"))))
        total = obj(c.get("totalPrice"))
        checkout = CheckoutIn(id=text(c.get("token")) or need_id(c, "id", "CHECKOUT_UPDATED checkout"),
                              currency=text(obj(total.get("gross")).get("currency")) or text(c.get("currency")),
                              subtotal=_gross(c, "subtotalPrice", "subtotal_price"),
                              total=_gross(c, "totalPrice", "total_price"), lines=lines)
        address = _address(c.get("shippingAddress")) or _address(c.get("billingAddress"))
        customer = _customer(c.get("user"), email=c.get("email"), locale=c.get("languageCode"), address=address)
        return Event(id=f"saleor:{digest}", type=EventType.CHECKOUT_UPDATED, occurred_at=when, customer=customer,
                     checkout=checkout)

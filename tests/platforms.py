"""Platform webhooks for tests: the published sample bodies, signed the way each platform signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from afterorder.domain import ItemSeen, OrderSeen

FIXTURES = Path(__file__).parent / "fixtures" / "platforms"


def sample(platform: str, name: str) -> bytes:
    """A published sample body, byte for byte as the platform's documentation has it."""
    return (FIXTURES / platform / name).read_bytes()


def sample_json(platform: str, name: str) -> Any:
    return json.loads(sample(platform, name))


def b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(body: bytes, secret: str, topic: str, webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                    shop: str = "kumo-tea.myshopify.com") -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": b64_hmac(secret, body),
            "X-Shopify-Shop-Domain": shop, "X-Shopify-API-Version": "2026-07", "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Triggered-At": "2026-11-22T01:00:00.000000Z"}


def woocommerce_headers(body: bytes, secret: str, topic: str, delivery: str = "d41d8cd98f00b204") -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {"Content-Type": "application/json", "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": b64_hmac(secret, body), "X-WC-Webhook-ID": "31",
            "X-WC-Webhook-Delivery-ID": delivery}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SaleorKey:
    """An RSA key pair as a Saleor instance holds one: signs detached JWS, publishes a JWKS."""

    def __init__(self, kid: str = "saleor-key-1") -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        size = (numbers.n.bit_length() + 7) // 8
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                "n": _b64url(numbers.n.to_bytes(size, "big")), "e": _b64url(numbers.e.to_bytes(3, "big"))}

    def sign(self, body: bytes) -> str:
        header = _b64url(json.dumps({"alg": "RS256", "b64": False, "crit": ["b64"], "kid": self.kid}).encode())
        signature = self.private.sign(header.encode() + b"." + body, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}..{_b64url(signature)}"


def saleor_headers(event: str, api_url: str, signature: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Saleor-Event": event, "Saleor-Domain": "shop.example.com",
            "Saleor-Api-Url": api_url, "Saleor-Signature": signature}


class RamMemory:
    """The adapters' Memory kept in a dict (for pure adapter tests; the receiver uses the database)."""

    def __init__(self) -> None:
        self.orders: dict[str, str] = {}
        self.items: dict[str, ItemSeen] = {}

    async def order_status(self, order_id: str) -> str | None:
        return self.orders.get(order_id)

    async def item(self, item_id: str) -> ItemSeen | None:
        return self.items.get(item_id)

    def learn(self, facts: Any) -> None:
        for fact in facts:
            if isinstance(fact, OrderSeen):
                self.orders[fact.order_id] = fact.status
            else:
                before = self.items.get(fact.item_id)
                levels = {**(before.levels if before else {}), **fact.levels}
                product = fact.product_id or (before.product_id if before else None)
                variant = fact.variant_id or (before.variant_id if before else None)
                self.items[fact.item_id] = ItemSeen(fact.item_id, product, variant, levels)

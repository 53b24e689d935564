"""The events the benchmarks send: ``order.placed`` for a new customer each, so every mail can be
matched to its event by the recipient address."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from afterorder.domain import Event

EMAIL_DOMAIN = "bench.example"


def recipient(tag: str, index: int) -> str:
    return f"c{index}-{tag}@{EMAIL_DOMAIN}"


def order_placed(tag: str, index: int, *, now: datetime | None = None) -> dict[str, Any]:
    """One ``order.placed`` event as the JSON a store would POST."""
    at = now or datetime.now(UTC)
    return {
        "id": f"evt-{tag}-{index}",
        "type": "order.placed",
        "occurred_at": at.isoformat(timespec="milliseconds"),
        "customer": {
            "id": f"cust-{tag}-{index}",
            "email": recipient(tag, index),
            "first_name": "Kim",
            "last_name": f"Bench{index}",
            "accepts_marketing": False,
        },
        "order": {
            "id": f"ord-{tag}-{index}",
            "number": f"#{100000 + index}",
            "currency": "USD",
            "subtotal": "54.00",
            "shipping": "5.00",
            "total": "59.00",
            "lines": [
                {"title": "Linen shirt", "variant": "M / white", "sku": "LS-M-W", "price": "39.00",
                 "quantity": 1},
                {"title": "Cotton socks", "sku": "CS-3", "price": "7.50", "quantity": 2},
            ],
            "shipping_address": {"name": f"Kim Bench{index}", "line1": "1 Main St", "city": "Springfield",
                                 "postal_code": "12345", "country": "US"},
        },
    }


def order_placed_event(tag: str, index: int) -> Event:
    return Event.model_validate(order_placed(tag, index))

"""Plain snapshots for templates, built at the edge from projected rows (never rows themselves)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from afterorder.content.carriers import tracking_link
from afterorder.domain import CustomerSnapshot, LineSnapshot, OrderSnapshot, ShipmentSnapshot


def customer_snapshot(row: dict[str, Any] | None) -> CustomerSnapshot | None:
    if not row:
        return None
    return CustomerSnapshot(
        email=row.get("email"), first_name=row.get("first_name"), last_name=row.get("last_name"),
        locale=row.get("locale"), timezone=row.get("timezone"), country=row.get("country"),
        accepts_marketing=bool(row.get("accepts_marketing")),
    )


def shipment_snapshot(data: dict[str, Any] | None) -> ShipmentSnapshot | None:
    if not data:
        return None
    eta = data.get("estimated_delivery")
    return ShipmentSnapshot(
        carrier=data.get("carrier"), tracking_number=data.get("tracking_number"),
        # a shipment that names a known carrier but no link gets the carrier's tracking page
        tracking_url=tracking_link(data.get("carrier"), data.get("tracking_number"), data.get("tracking_url")),
        estimated_delivery=datetime.fromisoformat(eta) if isinstance(eta, str) else eta,
    )


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def order_snapshot(row: dict[str, Any] | None) -> OrderSnapshot | None:
    if not row:
        return None
    lines = tuple(
        LineSnapshot(
            title=line["title"], quantity=int(line["quantity"]), price=Decimal(str(line["price"])),
            variant=line.get("variant"), sku=line.get("sku"), image_url=line.get("image_url"),
            url=line.get("url"), category=line.get("category"),
        )
        for line in row.get("lines", [])
    )
    address = {k: str(v) for k, v in (row.get("shipping_address") or {}).items() if v is not None}
    return OrderSnapshot(
        number=row["number"], currency=row["currency"], placed_at=row["placed_at"], lines=lines,
        subtotal=_money(row.get("subtotal")), shipping=_money(row.get("shipping")), tax=_money(row.get("tax")),
        discount=_money(row.get("discount")), total=_money(row.get("total")), shipping_address=address,
        status=row.get("status", "placed"), shipment=shipment_snapshot(row.get("shipment")),
    )

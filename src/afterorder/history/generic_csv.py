"""afterorder's own CSV formats, for any shop: the columns are documented in the README.

Orders: one row per line item, rows of one order next to each other (``order_id`` repeated).
Customers and products: one row each.  A column the format does not know is an error for the
whole file (a typo would otherwise lose that column silently).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from afterorder.domain import CustomerIn, Event, EventType, ProductIn
from afterorder.history import cells
from afterorder.history.orders import OrderDraft, order_record, problem
from afterorder.history.records import Context, Record, Rejected
from afterorder.history.rows import content_id, grouped_orders, kept
from afterorder.phones import lenient

CUSTOMER_COLUMNS = ("customer_id", "email", "phone", "first_name", "last_name", "locale", "timezone", "country",
                    "accepts_marketing")
ORDER_COLUMNS = (
    "order_id", "order_number", "currency", "placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at",
    "refunded_at", "refunded_amount", "subtotal", "shipping", "tax", "discount", "total",
    "customer_id", "email", "phone", "first_name", "last_name", "locale", "country",
    "carrier", "tracking_number", "tracking_url",
    "line_title", "line_quantity", "line_price", "line_product_id", "line_sku", "line_variant", "line_category",
    "line_image_url", "line_url",
)
PRODUCT_COLUMNS = ("product_id", "variant_id", "sku", "title", "variant", "category", "tags", "price", "currency",
                   "image_url", "url", "in_stock", "inventory_quantity", "replenish_days")
REQUIRED = {"customers": (), "orders": ("order_id", "placed_at"), "products": ("product_id",)}
COLUMNS = {"customers": CUSTOMER_COLUMNS, "orders": ORDER_COLUMNS, "products": PRODUCT_COLUMNS}


def header_problem(kind: str, header: list[str]) -> str | None:
    """Why this header cannot be read as the generic ``kind`` format, or None."""
    unknown = [h for h in header if h not in COLUMNS[kind]]
    if unknown:
        return (f"unknown column(s) {', '.join(repr(u) for u in unknown)}; the {kind} columns are: "
                + ", ".join(COLUMNS[kind]))
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        return f"missing column(s): {', '.join(missing)}"
    return None


def _customer_fields(row: dict[str, str]) -> dict[str, Any]:
    email = cells.text(row.get("email"))
    country = cells.country("country", row.get("country"))
    return {
        "id": cells.text(row.get("customer_id")), "email": email.lower() if email else None,
        "phone": lenient(cells.text(row.get("phone")), country), "first_name": cells.text(row.get("first_name")),
        "last_name": cells.text(row.get("last_name")), "locale": cells.text(row.get("locale")),
        "timezone": cells.text(row.get("timezone")), "country": country,
        "accepts_marketing": cells.flag("accepts_marketing", row.get("accepts_marketing")),
    }


def customers(rows: Iterable[tuple[int, dict[str, str]]], ctx: Context) -> Iterator[Record | Rejected]:
    for number, row in rows:
        try:
            fields = _customer_fields(row)
            if fields["id"] is None and fields["email"] is None:
                raise cells.CellError("customer_id or email: one is needed to know who this is")
            try:
                customer = CustomerIn.model_validate(fields)
            except ValidationError as exc:
                raise ValueError(problem(exc, "customer.")) from None
        except ValueError as exc:
            yield Rejected(number, str(exc))
            continue
        raw = {"file": ctx.file, "row": number, "rows": [kept(row)]}
        event = Event(id=content_id("customer", fields["id"] or f"email:{fields['email']}", raw["rows"]),
                      type=EventType.CUSTOMER_UPDATED, occurred_at=ctx.now, customer=customer)
        yield Record(number, [event], [raw])


def products(rows: Iterable[tuple[int, dict[str, str]]], ctx: Context) -> Iterator[Record | Rejected]:
    for number, row in rows:
        try:
            fields: dict[str, Any] = {
                "id": cells.required("product_id", row.get("product_id")),
                "variant_id": cells.text(row.get("variant_id")), "sku": cells.text(row.get("sku")),
                "title": cells.text(row.get("title")), "variant": cells.text(row.get("variant")),
                "category": cells.text(row.get("category")), "price": cells.amount("price", row.get("price")),
                "currency": cells.currency("currency", row.get("currency")),
                "image_url": cells.text(row.get("image_url")), "url": cells.text(row.get("url")),
                "in_stock": cells.flag("in_stock", row.get("in_stock")),
                "inventory_quantity": cells.count("inventory_quantity", row.get("inventory_quantity")),
                "replenish_days": cells.count("replenish_days", row.get("replenish_days")),
            }
            if "tags" in row:
                fields["tags"] = cells.tags(row.get("tags"))
            fields = {k: v for k, v in fields.items() if v is not None}
            try:
                product = ProductIn.model_validate(fields)
            except ValidationError as exc:
                raise ValueError(problem(exc, "product.")) from None
        except ValueError as exc:
            yield Rejected(number, str(exc))
            continue
        raw = {"file": ctx.file, "row": number, "rows": [kept(row)]}
        key = product.id + (f":{product.variant_id}" if product.variant_id else "")
        event = Event(id=content_id("product", key, raw["rows"]), type=EventType.PRODUCT_UPDATED,
                      occurred_at=ctx.now, product=product)
        yield Record(number, [event], [raw])


def _line(row: dict[str, str]) -> dict[str, Any] | None:
    title = cells.text(row.get("line_title"))
    if title is None:
        return None
    return {"title": title, "quantity": cells.count("line_quantity", row.get("line_quantity")) or 1,
            "price": cells.amount("line_price", row.get("line_price")) or Decimal(0),
            "product_id": cells.text(row.get("line_product_id")), "sku": cells.text(row.get("line_sku")),
            "variant": cells.text(row.get("line_variant")), "category": cells.text(row.get("line_category")),
            "image_url": cells.text(row.get("line_image_url")), "url": cells.text(row.get("line_url"))}


def _order(rows: list[tuple[int, dict[str, str]]], ctx: Context) -> Record:
    number, _ = rows[0]

    def value(column: str) -> str | None:
        for _, row in rows:
            found = cells.text(row.get(column))
            if found is not None:
                return found
        return None

    order_id = cells.required("order_id", value("order_id"))
    zone = ctx.timezone
    placed_at = cells.when("placed_at", value("placed_at"), zone, ctx.now)
    if placed_at is None:
        raise cells.CellError("placed_at: missing")
    lines = []
    for at, row in rows:
        try:
            line = _line(row)
        except cells.CellError as exc:
            raise cells.CellError(f"row {at}: {exc}") from None
        if line is not None:
            lines.append(line)
    order = {"number": value("order_number"), "currency": cells.currency("currency", value("currency")),
             **{c: cells.amount(c, value(c)) for c in ("subtotal", "shipping", "tax", "discount", "total")},
             "lines": lines}
    customer = {k: v for k, v in _customer_fields({c: value(c) or "" for c in CUSTOMER_COLUMNS}).items()
                if v is not None}
    customer.pop("accepts_marketing", None)  # consent comes from a customers import, not from old orders
    shipment = {k: value(k) for k in ("carrier", "tracking_number", "tracking_url") if value(k)}
    refunded_at = cells.when("refunded_at", value("refunded_at"), zone, ctx.now)
    refund_amount = cells.amount("refunded_amount", value("refunded_amount"))
    draft = OrderDraft(
        row=number, order_id=order_id, placed_at=placed_at, order=order,
        customer=customer if ("id" in customer or "email" in customer) else None,
        paid_at=cells.when("paid_at", value("paid_at"), zone, ctx.now),
        shipped_at=cells.when("shipped_at", value("shipped_at"), zone, ctx.now),
        delivered_at=cells.when("delivered_at", value("delivered_at"), zone, ctx.now),
        cancelled_at=cells.when("cancelled_at", value("cancelled_at"), zone, ctx.now),
        refunded_at=refunded_at, refund_amount=refund_amount, shipment=shipment or None,
        raw={"file": ctx.file, "row": number, "rows": [kept(r) for _, r in rows]})
    return order_record(draft)


def orders(rows: Iterable[tuple[int, dict[str, str]]], ctx: Context) -> Iterator[Record | Rejected]:
    """Consecutive rows with the same ``order_id`` are one order."""
    yield from grouped_orders(iter(rows), "order_id", "order_id: missing",
                              lambda group: _order(group, ctx))

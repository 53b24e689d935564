"""Shopify's own CSV exports (Admin → Orders / Customers → Export).

The orders export has one row per line item: rows sharing the order's ``Name`` (``#1001``) form one
order, and the order-level columns (Email, Financial Status, totals, addresses, ...) are filled on
its first row only.  An order is imported whole or rejected whole, naming the row and the column.
Marketing consent is taken from the customers export only (an old order's "Accepts Marketing" says
nothing about consent today).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from afterorder.domain import CustomerIn, Event, EventType
from afterorder.history import cells
from afterorder.history.orders import OrderDraft, order_record, problem
from afterorder.history.records import Context, Record, Rejected
from afterorder.history.rows import content_id, grouped_orders, kept
from afterorder.phones import lenient

# How to recognise the exports (a header holding all of these).
ORDER_HEADER = {"Name", "Created at", "Lineitem name", "Lineitem quantity"}
CUSTOMER_HEADER = {"First Name", "Last Name", "Email"}

REFUNDED = {"refunded", "partially_refunded"}
# Columns read into the events; the raw record beside them keeps every other non-empty cell
# (notes, tags, payment method, ...), so event and raw together hold the whole row.
ADDRESS = ("Name", "Street", "Address1", "Address2", "Company", "City", "Zip", "Province", "Country", "Phone")
MAPPED = frozenset({
    "Email", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Created at", "Paid at",
    "Fulfilled at", "Cancelled at", "Refunded Amount", "Id", "Phone", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem sku", *(f"{side} {part}" for side in ("Billing", "Shipping") for part in ADDRESS),
})


def _unmapped(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k and v and k not in MAPPED}


def _address(row: dict[str, str], prefix: str) -> dict[str, Any] | None:
    address = {
        "name": cells.text(row.get(f"{prefix} Name")),
        "company": cells.text(row.get(f"{prefix} Company")),
        "line1": cells.text(row.get(f"{prefix} Address1")) or cells.text(row.get(f"{prefix} Street")),
        "line2": cells.text(row.get(f"{prefix} Address2")),
        "city": cells.text(row.get(f"{prefix} City")),
        "region": cells.text(row.get(f"{prefix} Province")),
        "postal_code": cells.text(row.get(f"{prefix} Zip")),
        "country": cells.country(f"{prefix} Country", row.get(f"{prefix} Country")),
        "phone": cells.text(row.get(f"{prefix} Phone")),
    }
    found = {k: v for k, v in address.items() if v is not None}
    return found or None


def _order(rows: list[tuple[int, dict[str, str]]], ctx: Context) -> Record:
    number, first = rows[0]

    def value(column: str) -> str | None:
        # order-level columns are on the order's first row; a hand-edited file may repeat them
        for _, row in rows:
            found = cells.text(row.get(column))
            if found is not None:
                return found
        return None

    name = cells.required("Name", first.get("Name"))
    order_id = value("Id") or name
    currency = cells.currency("Currency", value("Currency"))
    placed_at = cells.when("Created at", value("Created at"), ctx.timezone, ctx.now)
    if placed_at is None:
        raise cells.CellError("Created at: missing")
    lines = []
    for at, row in rows:
        try:
            title = cells.required("Lineitem name", row.get("Lineitem name"))
            lines.append({"title": title, "sku": cells.text(row.get("Lineitem sku")),
                          "quantity": cells.count("Lineitem quantity", row.get("Lineitem quantity")) or 1,
                          "price": cells.amount("Lineitem price", row.get("Lineitem price")) or Decimal(0)})
        except cells.CellError as exc:
            raise cells.CellError(f"row {at}: {exc}") from None
    shipping_address = _address(first, "Shipping")
    billing_address = _address(first, "Billing")
    total = cells.amount("Total", value("Total"))
    order: dict[str, Any] = {
        "number": name, "currency": currency, "subtotal": cells.amount("Subtotal", value("Subtotal")),
        "shipping": cells.amount("Shipping", value("Shipping")), "tax": cells.amount("Taxes", value("Taxes")),
        "discount": cells.amount("Discount Amount", value("Discount Amount")),
        "total": total, "lines": lines,
        "shipping_address": shipping_address, "billing_address": billing_address,
    }
    email = value("Email")
    customer = None
    if email:
        where = (shipping_address or billing_address or {}).get("country")
        customer = {"email": email.lower(), "phone": lenient(value("Phone"), where), "country": where}
    paid_at = cells.when("Paid at", value("Paid at"), ctx.timezone, ctx.now)
    shipped_at = cells.when("Fulfilled at", value("Fulfilled at"), ctx.timezone, ctx.now)
    cancelled_at = cells.when("Cancelled at", value("Cancelled at"), ctx.timezone, ctx.now)
    refunded = cells.amount("Refunded Amount", value("Refunded Amount"))
    status = (value("Financial Status") or "").lower()
    refunded_at = None
    if status in REFUNDED or (refunded is not None and refunded > 0):
        # the export has no refund time: the refund is dated by the order's last known moment
        refunded_at = max(t for t in (placed_at, paid_at, shipped_at, cancelled_at) if t is not None)
        if not refunded and status == "refunded":
            refunded = total
    draft = OrderDraft(row=number, order_id=order_id, placed_at=placed_at, order=order, customer=customer,
                       paid_at=paid_at, shipped_at=shipped_at, cancelled_at=cancelled_at, refunded_at=refunded_at,
                       refund_amount=refunded,
                       raw={"file": ctx.file, "row": number, "rows": [_unmapped(r) for _, r in rows]})
    return order_record(draft)


def orders(rows: Iterable[tuple[int, dict[str, str]]], ctx: Context) -> Iterator[Record | Rejected]:
    """Consecutive rows with the same ``Name`` are one order."""
    yield from grouped_orders(iter(rows), "Name", "Name: missing (the order's name, e.g. #1001)",
                              lambda group: _order(group, ctx))


def customers(rows: Iterable[tuple[int, dict[str, str]]], ctx: Context) -> Iterator[Record | Rejected]:
    for number, row in rows:
        try:
            yield _customer(number, row, ctx)
        except ValueError as exc:
            yield Rejected(number, str(exc))


def _customer(number: int, row: dict[str, str], ctx: Context) -> Record:
    customer_id = cells.text(row.get("Customer ID")) or cells.text(row.get("ID"))
    email = cells.text(row.get("Email"))
    if customer_id is None and email is None:
        raise cells.CellError("Customer ID or Email: one is needed to know who this is")
    consent = row.get("Accepts Email Marketing", row.get("Accepts Marketing"))
    country = cells.country("Default Address Country Code", row.get("Default Address Country Code",
                                                                  row.get("Country Code")))
    fields = {
        "id": customer_id, "email": email.lower() if email else None,
        "first_name": cells.text(row.get("First Name")), "last_name": cells.text(row.get("Last Name")),
        "phone": lenient(cells.text(row.get("Phone")) or cells.text(row.get("Default Address Phone")), country),
        "country": country,
        "accepts_marketing": cells.flag("Accepts Email Marketing", consent),
    }
    try:
        customer = CustomerIn.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(problem(exc, "customer.")) from None
    raw = {"file": ctx.file, "row": number, "rows": [kept(row)]}
    event = Event(id=content_id("customer", customer_id or f"email:{fields['email']}", raw["rows"]),
                  type=EventType.CUSTOMER_UPDATED, occurred_at=ctx.now, customer=customer)
    return Record(number, [event], [raw])


"""An order read from a file, turned into its life as events: placed, then paid, shipped, delivered,
cancelled, refunded, each at its own time, with ids derived from the file's order id so that a second
run of the same file stores nothing new (and a later export adds only what happened since)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from afterorder.domain import CustomerIn, Event, EventType, OrderIn, RefundIn, ShipmentIn
from afterorder.history.records import Record
from afterorder.history.trusted import Trusted
from afterorder.web.errors import validation_details


def problem(exc: ValidationError, prefix: str = "") -> str:
    """A pydantic error as one line that names each field."""
    return "; ".join(f"{prefix}{d['field']}: {d['message']}" for d in validation_details(exc))


@dataclass
class OrderDraft:
    row: int
    order_id: str
    placed_at: datetime
    order: dict[str, Any]  # OrderIn fields except id
    customer: dict[str, Any] | None = None
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded_at: datetime | None = None
    refund_amount: Decimal | None = None
    shipment: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


MAX_ID = 255  # Event.id
_EVENT = Trusted(Event)
_ORDER = Trusted(OrderIn)


def event_id(order_id: str, what: str) -> str:
    return f"import:order:{order_id}:{what}"


def _event(id_: str, kind: EventType, at: datetime, **parts: Any) -> Event:
    """An order's event from parts already validated (the order, its customer, shipment, refund):
    built without validating them again (validating took a third of an import's parsing), except when
    its id or time would not pass, so that the usual error names the problem."""
    if len(id_) > MAX_ID or at.tzinfo is None:
        return Event(id=id_, type=kind, occurred_at=at, **parts)
    return _EVENT(id=id_, type=kind, occurred_at=at, **parts)


def order_record(draft: OrderDraft) -> Record:
    """The draft's events, in the order they happened; raises ``ValueError`` naming the bad field."""
    try:
        order = OrderIn.model_validate({"id": draft.order_id, **draft.order})
    except ValidationError as exc:
        raise ValueError(problem(exc, "order.")) from None
    customer = None
    if draft.customer:
        try:
            customer = CustomerIn.model_validate(draft.customer)
        except ValidationError as exc:
            raise ValueError(problem(exc, "customer.")) from None
    try:
        shipment = ShipmentIn.model_validate(draft.shipment) if draft.shipment else None
        refund = RefundIn(amount=draft.refund_amount, currency=order.currency) if draft.refunded_at else None
    except ValidationError as exc:
        raise ValueError(problem(exc)) from None
    bare = _ORDER(id=order.id)
    events = [_event(event_id(draft.order_id, "placed"), EventType.ORDER_PLACED, draft.placed_at,
                     customer=customer, order=order)]
    later: list[tuple[datetime, EventType, str, dict[str, Any]]] = []
    if draft.paid_at:
        later.append((draft.paid_at, EventType.ORDER_PAID, "paid", {}))
    if draft.shipped_at:
        later.append((draft.shipped_at, EventType.ORDER_SHIPPED, "shipped", {"shipment": shipment}))
    if draft.delivered_at:
        later.append((draft.delivered_at, EventType.ORDER_DELIVERED, "delivered", {}))
    if draft.cancelled_at:
        later.append((draft.cancelled_at, EventType.ORDER_CANCELLED, "cancelled", {}))
    if draft.refunded_at:
        later.append((draft.refunded_at, EventType.ORDER_REFUNDED, "refunded", {"refund": refund}))
    later.sort(key=lambda item: item[0])
    for at, kind, what, extra in later:
        events.append(_event(event_id(draft.order_id, what), kind, at, order=bare, **extra))
    pointer = {"file": draft.raw.get("file"), "row": draft.row}
    return Record(draft.row, events, [draft.raw, *([pointer] * (len(events) - 1))])

"""An event of history as a history batch writes it (intake/history_batches.py): the parts of its
stored row and of its projections' rows that come from the event alone, as plain values.

``prepare`` is pure.  An import runs it in its parsing process (history/parse_process.py) and hands
over these values instead of the models: unpickling an ``Event`` costs about as much as parsing it
again, plain dicts of text, numbers and times a fraction of that.  The model itself travels only
with the few events that need it once stored (products, messages, consent, coupons).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from afterorder.db.projections import LINE_COLUMNS, customer_fields, customer_key, order_fields
from afterorder.domain import Event, EventType, codes_in

LINE_FIELDS = tuple(c for c in LINE_COLUMNS if c not in ("store_id", "order_id", "position"))


@dataclass(slots=True)
class Prepared:
    id: str
    type: str
    occurred_at: datetime
    payload: str  # the event as JSON text: the stored payload
    raw: str | None  # what was kept beside it, as JSON text
    customer_key: str | None
    customer: dict[str, Any] | None  # customer_fields, when the event names a customer
    order_key: str | None
    order: dict[str, Any] | None  # order_fields, when the event names an order
    lines: list[dict[str, Any]] | None  # the order's lines (LINE_FIELDS), when the event lists them
    event: Event | None  # the model, for what needs it once stored (``keeps_model``)
    email_only: str | None = None  # an order placed by a customer named by email alone: that email
    names_customer: bool = False  # the event names its customer by the store's id and an email

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # as a plain tuple of its values: a fifth less to pickle and unpickle than the default state
        return Prepared, tuple(getattr(self, name) for name in _FIELDS)

    def join_customer(self, key: str) -> None:
        """The order's customer, named by email alone, is the store's customer ``key``: as if the
        event had named it (``customer.id``), in the projections and the stored payload."""
        assert self.email_only is not None and self.customer is not None
        joined = self.payload.replace(_NO_CUSTOMER_ID, f'"customer":{{"id":{json.dumps(key, ensure_ascii=False)}', 1)
        if joined == self.payload:
            raise ValueError(f"event {self.id}: its payload does not start its customer with an empty id")
        self.payload = joined
        if self.event is not None and self.event.customer is not None:
            self.event.customer.id = key
        self.customer_key = key
        self.customer["external_id"] = key
        self.email_only = None
        self.names_customer = True


_FIELDS = tuple(f.name for f in fields(Prepared))
_NO_CUSTOMER_ID = '"customer":{"id":null'  # how model_dump_json writes a customer without an id


def keeps_model(event: Event) -> bool:
    """Whether a stored event needs more than its rows: the catalog (products), the message it is
    about, the consent it carries, the coupons it used."""
    if event.product is not None or event.message is not None:
        return True
    if event.customer is not None and event.customer.accepts_marketing is not None:
        return True
    return event.type is EventType.ORDER_PLACED and bool(codes_in(event))


def prepare(event: Event, raw: Any, currency: str) -> Prepared:
    """``event`` and its ``raw`` record as history writes them; ``currency`` is the store's."""
    customer = event.customer
    key = customer_key(customer) if customer is not None else None
    order = event.order
    lines = None
    if order is not None and order.lines:
        lines = [{c: getattr(line, c) for c in LINE_FIELDS} for line in order.lines]
    email_only = None
    if event.type is EventType.ORDER_PLACED and customer is not None and customer.id is None and customer.email:
        email_only = customer.email
    return Prepared(
        id=event.id, type=event.type.value, occurred_at=event.occurred_at, payload=event.model_dump_json(),
        raw=json.dumps(raw) if raw is not None else None,  # as the column's own JSON type writes it
        customer_key=key,
        customer=customer_fields(key, customer) if key is not None and customer is not None else None,
        order_key=order.id if order is not None else None,
        order=order_fields(event, currency) if order is not None else None,
        lines=lines, event=event if keeps_model(event) else None, email_only=email_only,
        names_customer=customer is not None and customer.id is not None and bool(customer.email))


def subject_ids(item: Prepared, customer_ids: dict[str, int], order_ids: dict[str, tuple[int, int | None]],
                messages: dict[int, tuple[int | None, int | None]]) -> tuple[int | None, int | None]:
    """The (customer id, order id) a stored event belongs to, as ``event_subject_ids`` says for its model."""
    customer_id = customer_ids.get(item.customer_key) if item.customer_key is not None else None
    order_id = None
    if item.order_key is not None:
        order_id, order_customer = order_ids[item.order_key]
        customer_id = customer_id if customer_id is not None else order_customer
    message = item.event.message if item.event is not None else None
    if message is not None and message.outbox_id in messages:
        customer_id, order_id = messages[message.outbox_id]
    return customer_id, order_id

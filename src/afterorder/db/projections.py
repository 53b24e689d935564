"""Customers, orders and line items, projected from events in the events' own transaction.

A group of events is projected with a few statements whatever its size: one upsert per table run
as an executemany, in event order, so the database applies them one after another exactly as if
they had come one by one.  Fields an event leaves out keep their stored values, and an order's
status only moves forward (cancelled and refunded end it whatever came before).  An
``order.out_for_delivery`` keeps the status (a shipped order stays shipped) and sets
``out_for_delivery_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.catalog import fill_from_catalog
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import customers, order_lines, orders
from afterorder.db.statements import (
    CUSTOMER_KEPT,
    ORDER_KEPT,
    execute_many,
    insert_rows,
    upsert_customer,
    upsert_order,
)
from afterorder.domain import ORDER_STATUS_BY_EVENT, CustomerIn, Event, EventType

STATUS_RANK = {"placed": 0, "paid": 1, "shipped": 2, "delivered": 3, "cancelled": 9, "refunded": 9}
TIMESTAMP_BY_STATUS = {
    "paid": "paid_at", "shipped": "shipped_at", "delivered": "delivered_at",
    "cancelled": "cancelled_at", "refunded": "refunded_at",
}
CHUNK = 500
LINE_COLUMNS = ("store_id", "order_id", "position", "product_id", "sku", "title", "variant", "quantity", "price",
                "image_url", "url", "category")


def customer_key(customer: CustomerIn) -> str | None:
    if customer.id:
        return customer.id
    if customer.email:
        return "email:" + customer.email.lower()
    return None


def customer_fields(key: str, customer: CustomerIn) -> dict[str, Any]:
    """The customer upsert's values that come from the event alone (not the store or the time)."""
    given = customer.model_dump(exclude={"id"})
    if given["email"]:
        given["email"] = given["email"].lower()
    tags = given["tags"]
    given["tag_list"] = "".join(f",{t}" for t in tags) + "," if tags is not None else None  # [] → ","
    params = {c: given[c] for c in CUSTOMER_KEPT}
    params.update(external_id=key, accepts_marketing=bool(given["accepts_marketing"]),
                  marketing_given=given["accepts_marketing"] is not None)
    return params


def _customer_params(store_id: int, key: str, customer: CustomerIn, now: datetime) -> dict[str, Any]:
    return {**customer_fields(key, customer), "store_id": store_id, "created_at": now, "updated_at": now}


_DELETE_LINES = order_lines.delete().where(order_lines.c.store_id == bindparam("store"),
                                           in_keys(order_lines.c.order_id, "ids"))
_ID_QUERIES: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}


def _id_query(table: Any, extra: tuple[Any, ...]) -> Select[Any]:
    """The id lookup by external id, built once per table (every batch of events runs it)."""
    key = (table.name, tuple(c.name for c in extra))
    query = _ID_QUERIES.get(key)
    if query is None:
        query = select(table.c.external_id, table.c.id, *extra).where(
            table.c.store_id == bindparam("store"), in_keys(table.c.external_id, "keys"))
        _ID_QUERIES[key] = query
    return query


async def _ids(conn: AsyncConnection, table: Any, store_id: int, keys: set[str], *extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    wanted = sorted(keys)
    query = _id_query(table, extra)
    for start in range(0, len(wanted), CHUNK):
        rows = await conn.execute(query, {"store": store_id, "keys": wanted[start:start + CHUNK]})
        found.update({r.external_id: r for r in rows})
    return found


async def project_customers(conn: AsyncConnection, store_id: int, events: Sequence[Event],
                            now: datetime) -> dict[str, int]:
    """Upsert every event's customer; returns customer id by the store's customer key."""
    params = [
        _customer_params(store_id, key, e.customer, now)
        for e in events if e.customer is not None and (key := customer_key(e.customer)) is not None
    ]
    if not params:
        return {}
    await execute_many(conn, upsert_customer(), params)
    rows = await _ids(conn, customers, store_id, {p["external_id"] for p in params})
    return {key: int(row.id) for key, row in rows.items()}


def order_fields(event: Event, currency: str) -> dict[str, Any]:
    """The order upsert's values that come from the event alone (and the store's currency, when the
    order names none): all but the store, the customer and the time."""
    order = event.order
    assert order is not None
    status = ORDER_STATUS_BY_EVENT.get(event.type)
    params: dict[str, Any] = dict.fromkeys(ORDER_KEPT)
    params.update(
        subtotal=order.subtotal, shipping=order.shipping, tax=order.tax,
        discount=order.discount, total=order.total,
        shipping_address=order.shipping_address.model_dump(exclude_none=True) if order.shipping_address else None,
        billing_address=order.billing_address.model_dump(exclude_none=True) if order.billing_address else None,
        shipment=event.shipment.model_dump(mode="json", exclude_none=True) if event.shipment else None,
    )
    if status in TIMESTAMP_BY_STATUS:
        params[TIMESTAMP_BY_STATUS[status]] = event.occurred_at
    elif event.type is EventType.ORDER_OUT_FOR_DELIVERY:
        params["out_for_delivery_at"] = event.occurred_at
    params.update(
        external_id=order.id, number=order.number or order.id,
        currency=(order.currency or currency).upper(), status=status or "placed", placed_at=event.occurred_at,
        number_given=order.number is not None, currency_given=order.currency is not None,
        is_placed=status == "placed", rank=STATUS_RANK[status] if status else -1,
    )
    return params


def _order_params(store_id: int, currency: str, event: Event, customer_id: int | None,
                  now: datetime) -> dict[str, Any]:
    return {**order_fields(event, currency), "store_id": store_id, "customer_id": customer_id, "updated_at": now}


def fold_params(params: Sequence[dict[str, Any]], kept: Sequence[str], flagged: Sequence[tuple[str, str]] = (),
                then: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """One upsert per row (``external_id``) instead of one per event: the parameters of a group's
    events, folded in order into the row the database would reach applying them one by one.  A later
    given (not None) ``kept`` column wins, and so does a ``flagged`` (value, flag) whose flag is set;
    ``then(row, later)`` folds what else the table keeps."""
    merged: dict[str, dict[str, Any]] = {}
    for p in params:
        current = merged.get(p["external_id"])
        if current is None:
            merged[p["external_id"]] = dict(p)
            continue
        for column in kept:
            if p[column] is not None:
                current[column] = p[column]
        for value, flag in flagged:
            if p[flag]:
                current[value] = p[value]
                current[flag] = True
        if then is not None:
            then(current, p)
        current["updated_at"] = p["updated_at"]
    return list(merged.values())


def merge_order_params(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The orders of a group, one each (``fold_params``); the status is the last one of the highest rank
    reached.  An imported order brings its whole life (placed, paid, shipped, ...) in one group."""
    return fold_params(params, ORDER_KEPT, (("number", "number_given"), ("currency", "currency_given"),
                                            ("placed_at", "is_placed")), _highest_status)


def _highest_status(current: dict[str, Any], later: dict[str, Any]) -> None:
    if later["rank"] >= 0 and later["rank"] >= current["rank"]:
        current["status"] = later["status"]
        current["rank"] = later["rank"]


def order_batch(store_id: int, currency: str, events: Sequence[Event], customer_ids: dict[str, int],
                now: datetime) -> tuple[list[dict[str, Any]], dict[str, Event]]:
    """The order upserts of a batch, one per order (merged in event order), and the event whose
    lines each order ends with (the latest list of lines wins)."""
    params = []
    lines_by_order: dict[str, Event] = {}
    for event in events:
        if event.order is None:
            continue
        key = customer_key(event.customer) if event.customer else None
        params.append(_order_params(store_id, currency, event, customer_ids.get(key) if key else None, now))
        if event.order.lines:
            lines_by_order[event.order.id] = event
    return merge_order_params(params) if params else [], lines_by_order


def event_subject_ids(event: Event, customer_ids: dict[str, int], order_ids: dict[str, tuple[int, int | None]],
                      messages: dict[int, tuple[int | None, int | None]]) -> tuple[int | None, int | None]:
    """The (customer id, order id) a stored event belongs to: its customer, else its order's; an event
    about a message we sent (``messages`` by outbox id) belongs to that message's customer and order."""
    key = customer_key(event.customer) if event.customer else None
    customer_id = customer_ids.get(key) if key else None
    order_id = None
    if event.order is not None:
        order_id, order_customer = order_ids[event.order.id]
        customer_id = customer_id if customer_id is not None else order_customer
    if event.message is not None and event.message.outbox_id in messages:
        customer_id, order_id = messages[event.message.outbox_id]
    return customer_id, order_id


async def project_orders(conn: AsyncConnection, store_id: int, currency: str, events: Sequence[Event],
                         customer_ids: dict[str, int], now: datetime) -> dict[str, tuple[int, int | None]]:
    """Upsert every event's order (and its lines, when the event lists them); returns
    ``(order id, customer id)`` by the store's order id."""
    params, lines_by_order = order_batch(store_id, currency, events, customer_ids, now)
    if not params:
        return {}
    await execute_many(conn, upsert_order(), params)
    rows = await _ids(conn, orders, store_id, {p["external_id"] for p in params}, orders.c.customer_id)
    found = {key: (int(row.id), row.customer_id) for key, row in rows.items()}
    if lines_by_order:
        ids = [found[key][0] for key in lines_by_order]
        await conn.execute(_DELETE_LINES, {"store": store_id, "ids": ids})
        line_rows = [{"store_id": store_id, "order_id": found[key][0], "position": i, **line.model_dump()}
                     for key, event in lines_by_order.items()
                     for i, line in enumerate(event.order.lines)]  # type: ignore[union-attr]
        await fill_from_catalog(conn, store_id, line_rows)
        await execute_many(conn, insert_rows(order_lines, LINE_COLUMNS), line_rows)
    return found

"""Customers, orders and line items, projected from each event in the event's own transaction.

Each projection is one upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) so an event
costs a handful of statements: fields the event leaves out keep their stored values, and an
order's status only moves forward (cancelled and refunded end it whatever came before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import customers, order_lines, orders
from afterorder.domain import ORDER_STATUS_BY_EVENT, CustomerIn, Event

STATUS_RANK = {"placed": 0, "paid": 1, "shipped": 2, "delivered": 3, "cancelled": 9, "refunded": 9}
TIMESTAMP_BY_STATUS = {
    "paid": "paid_at", "shipped": "shipped_at", "delivered": "delivered_at",
    "cancelled": "cancelled_at", "refunded": "refunded_at",
}
CUSTOMER_FIELDS = ("email", "phone", "first_name", "last_name", "locale", "timezone", "country")
ORDER_FIELDS = ("customer_id", "subtotal", "shipping", "tax", "discount", "total", "shipping_address",
                "billing_address", "shipment", *TIMESTAMP_BY_STATUS.values())


def customer_key(customer: CustomerIn) -> str | None:
    if customer.id:
        return customer.id
    if customer.email:
        return "email:" + customer.email.lower()
    return None


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def upsert_customer(conn: AsyncConnection, store_id: int, customer: CustomerIn, now: datetime) -> int | None:
    key = customer_key(customer)
    if key is None:
        return None
    given = customer.model_dump(exclude={"id"})
    if given["email"]:
        given["email"] = given["email"].lower()
    stmt = _insert(conn, customers).values(
        store_id=store_id, external_id=key, created_at=now, updated_at=now,
        accepts_marketing=bool(given["accepts_marketing"]), **{f: given[f] for f in CUSTOMER_FIELDS},
    )
    keep = {f: func.coalesce(stmt.excluded[f], customers.c[f]) for f in CUSTOMER_FIELDS}
    marketing = given["accepts_marketing"]
    stmt = stmt.on_conflict_do_update(
        index_elements=[customers.c.store_id, customers.c.external_id],
        set_={**keep, "updated_at": now,
              "accepts_marketing": customers.c.accepts_marketing if marketing is None else literal(marketing)},
    ).returning(customers.c.id)
    return int((await conn.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class ProjectedOrder:
    id: int
    customer_id: int | None


def _status_rank(column: Any) -> Any:
    return case(*((column == status, rank) for status, rank in STATUS_RANK.items()), else_=0)


async def project_order(
    conn: AsyncConnection, store_id: int, currency: str, event: Event, customer_id: int | None, now: datetime
) -> ProjectedOrder | None:
    order = event.order
    if order is None:
        return None
    status = ORDER_STATUS_BY_EVENT.get(event.type)
    values: dict[str, Any] = dict.fromkeys(ORDER_FIELDS)
    values.update(
        customer_id=customer_id, subtotal=order.subtotal, shipping=order.shipping, tax=order.tax,
        discount=order.discount, total=order.total,
        shipping_address=order.shipping_address.model_dump(exclude_none=True) if order.shipping_address else None,
        billing_address=order.billing_address.model_dump(exclude_none=True) if order.billing_address else None,
        shipment=event.shipment.model_dump(mode="json", exclude_none=True) if event.shipment else None,
    )
    if status in TIMESTAMP_BY_STATUS:
        values[TIMESTAMP_BY_STATUS[status]] = event.occurred_at
    stmt = _insert(conn, orders).values(
        store_id=store_id, external_id=order.id, number=order.number or order.id,
        currency=(order.currency or currency).upper(), status=status or "placed", placed_at=event.occurred_at,
        updated_at=now, **values,
    )
    update: dict[str, Any] = {f: func.coalesce(stmt.excluded[f], orders.c[f]) for f in ORDER_FIELDS}
    if order.number:
        update["number"] = stmt.excluded.number
    if order.currency:
        update["currency"] = stmt.excluded.currency
    if status == "placed":
        update["placed_at"] = stmt.excluded.placed_at
    if status is not None:
        update["status"] = case((_status_rank(orders.c.status) <= STATUS_RANK[status], literal(status)),
                                else_=orders.c.status)
    update["updated_at"] = now
    stmt = stmt.on_conflict_do_update(
        index_elements=[orders.c.store_id, orders.c.external_id], set_=update,
    ).returning(orders.c.id, orders.c.customer_id)
    row = (await conn.execute(stmt)).one()
    if order.lines:
        await conn.execute(order_lines.delete().where(
            order_lines.c.store_id == store_id, order_lines.c.order_id == row.id))
        await conn.execute(order_lines.insert(), [
            {"store_id": store_id, "order_id": row.id, "position": i, **line.model_dump()}
            for i, line in enumerate(order.lines)
        ])
    return ProjectedOrder(int(row.id), row.customer_id)

"""Customers, orders and line items, projected from each event in the event's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.dialect import insert_ignore
from afterorder.db.schema import customers, order_lines, orders
from afterorder.domain import ORDER_STATUS_BY_EVENT, CustomerIn, Event, EventType, OrderIn

# how far an order has come; cancelled and refunded end it whatever came before
STATUS_RANK = {"placed": 0, "paid": 1, "shipped": 2, "delivered": 3, "cancelled": 9, "refunded": 9}
TIMESTAMP_BY_STATUS = {
    "paid": "paid_at", "shipped": "shipped_at", "delivered": "delivered_at",
    "cancelled": "cancelled_at", "refunded": "refunded_at",
}


def customer_key(customer: CustomerIn) -> str | None:
    if customer.id:
        return customer.id
    if customer.email:
        return "email:" + customer.email.lower()
    return None


async def upsert_customer(conn: AsyncConnection, store_id: int, customer: CustomerIn, now: datetime) -> int | None:
    key = customer_key(customer)
    if key is None:
        return None
    fields = customer.model_dump(exclude={"id"}, exclude_none=True)
    if "email" in fields:
        fields["email"] = fields["email"].lower()
    await conn.execute(
        insert_ignore(conn, customers).values(
            store_id=store_id, external_id=key, accepts_marketing=False, created_at=now, updated_at=now
        )
    )
    if fields:
        await conn.execute(
            customers.update()
            .where(customers.c.store_id == store_id, customers.c.external_id == key)
            .values(**fields, updated_at=now)
        )
    row = (await conn.execute(
        select(customers.c.id).where(customers.c.store_id == store_id, customers.c.external_id == key)
    )).one()
    return int(row.id)


def _order_fields(order: OrderIn) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("number", "currency", "subtotal", "shipping", "tax", "discount", "total"):
        value = getattr(order, key)
        if value is not None:
            fields[key] = value.upper() if key == "currency" else value
    for key in ("shipping_address", "billing_address"):
        value = getattr(order, key)
        if value is not None:
            fields[key] = value.model_dump(exclude_none=True)
    return fields


async def project_order(
    conn: AsyncConnection, store_id: int, currency: str, event: Event, customer_id: int | None, now: datetime
) -> int | None:
    order = event.order
    if order is None:
        return None
    fields = _order_fields(order)
    if customer_id is not None:
        fields["customer_id"] = customer_id
    if event.shipment is not None:
        fields["shipment"] = event.shipment.model_dump(mode="json", exclude_none=True)
    await conn.execute(
        insert_ignore(conn, orders).values(
            store_id=store_id, external_id=order.id, number=order.number or order.id,
            currency=(order.currency or currency).upper(), status="placed", placed_at=event.occurred_at,
            updated_at=now,
        )
    )
    current = (await conn.execute(
        select(orders.c.id, orders.c.status, orders.c.placed_at)
        .where(orders.c.store_id == store_id, orders.c.external_id == order.id)
    )).one()
    status = ORDER_STATUS_BY_EVENT.get(EventType(event.type))
    if status is not None:
        stamp = TIMESTAMP_BY_STATUS.get(status)
        if stamp:
            fields[stamp] = event.occurred_at
        if status == "placed":
            fields["placed_at"] = event.occurred_at
        if STATUS_RANK[status] >= STATUS_RANK.get(current.status, 0):
            fields["status"] = status
    await conn.execute(orders.update().where(orders.c.id == current.id).values(**fields, updated_at=now))
    if order.lines:
        await conn.execute(order_lines.delete().where(
            order_lines.c.store_id == store_id, order_lines.c.order_id == current.id))
        await conn.execute(order_lines.insert(), [
            {"store_id": store_id, "order_id": current.id, "position": i, **line.model_dump()}
            for i, line in enumerate(order.lines)
        ])
    return int(current.id)

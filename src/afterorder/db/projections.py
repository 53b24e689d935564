"""Customers, orders and line items, projected from each event in the event's own transaction.

Each projection is one upsert (see ``db/statements.py``): fields the event leaves out keep their
stored values, and an order's status only moves forward (cancelled and refunded end it whatever
came before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import order_lines
from afterorder.db.statements import CUSTOMER_KEPT, ORDER_KEPT, upsert_customer, upsert_order
from afterorder.domain import ORDER_STATUS_BY_EVENT, CustomerIn, Event

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


async def project_customer(conn: AsyncConnection, store_id: int, customer: CustomerIn, now: datetime) -> int | None:
    key = customer_key(customer)
    if key is None:
        return None
    given = customer.model_dump(exclude={"id"})
    if given["email"]:
        given["email"] = given["email"].lower()
    params = {c: given[c] for c in CUSTOMER_KEPT}
    params.update(store_id=store_id, external_id=key, created_at=now, updated_at=now,
                  accepts_marketing=bool(given["accepts_marketing"]),
                  marketing_given=given["accepts_marketing"] is not None)
    return int((await conn.execute(upsert_customer(), params)).scalar_one())


@dataclass(frozen=True)
class ProjectedOrder:
    id: int
    customer_id: int | None


async def project_order(
    conn: AsyncConnection, store_id: int, currency: str, event: Event, customer_id: int | None, now: datetime
) -> ProjectedOrder | None:
    order = event.order
    if order is None:
        return None
    status = ORDER_STATUS_BY_EVENT.get(event.type)
    params: dict[str, Any] = dict.fromkeys(ORDER_KEPT)
    params.update(
        customer_id=customer_id, subtotal=order.subtotal, shipping=order.shipping, tax=order.tax,
        discount=order.discount, total=order.total,
        shipping_address=order.shipping_address.model_dump(exclude_none=True) if order.shipping_address else None,
        billing_address=order.billing_address.model_dump(exclude_none=True) if order.billing_address else None,
        shipment=event.shipment.model_dump(mode="json", exclude_none=True) if event.shipment else None,
    )
    if status in TIMESTAMP_BY_STATUS:
        params[TIMESTAMP_BY_STATUS[status]] = event.occurred_at
    params.update(
        store_id=store_id, external_id=order.id, number=order.number or order.id,
        currency=(order.currency or currency).upper(), status=status or "placed", placed_at=event.occurred_at,
        updated_at=now, number_given=order.number is not None, currency_given=order.currency is not None,
        is_placed=status == "placed", rank=STATUS_RANK[status] if status else -1,
    )
    row = (await conn.execute(upsert_order(), params)).one()
    if order.lines:
        await conn.execute(order_lines.delete().where(
            order_lines.c.store_id == store_id, order_lines.c.order_id == row.id))
        await conn.execute(order_lines.insert(), [
            {"store_id": store_id, "order_id": row.id, "position": i, **line.model_dump()}
            for i, line in enumerate(order.lines)
        ])
    return ProjectedOrder(int(row.id), row.customer_id)

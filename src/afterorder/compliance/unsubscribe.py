"""Unsubscribing: the customer's marketing consent on email is withdrawn at once (delivery checks it
before every marketing send, so nothing queued for them goes out afterwards), the change is
recorded with the message it came from, and a ``message.unsubscribed`` event is stored so flows
can react."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.compliance.consent import EMAIL, MARKETING, Change, ConsentMethod, ConsentStatus, record
from afterorder.compliance.tokens import MessageRef
from afterorder.db.schema import customers, flow_runs, outbox
from afterorder.db.stores import StoreRow
from afterorder.domain import Event, EventSink, EventType
from afterorder.domain import MessageRef as EventMessageRef


@dataclass(frozen=True)
class Customer:
    id: int
    external_id: str
    email: str | None
    locale: str | None


async def find_customer(engine: AsyncEngine, store_id: int, customer_id: int) -> Customer | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(customers.c.id, customers.c.external_id, customers.c.email,
                                         customers.c.locale).where(
            customers.c.store_id == store_id, customers.c.id == customer_id))).first()
    return Customer(row.id, row.external_id, row.email, row.locale) if row else None


async def unsubscribe(engine: AsyncEngine, intake: EventSink, store: StoreRow, ref: MessageRef, *,
                      method: ConsentMethod, wording: str, source_ip: str | None, now: datetime) -> bool:
    """Withdraw ``ref``'s customer's marketing consent on email; returns whether anything changed
    (unsubscribing twice changes nothing the second time, and records nothing)."""
    async with engine.begin() as conn:
        customer = (await conn.execute(select(customers.c.id, customers.c.external_id).where(
            customers.c.store_id == store.id, customers.c.id == ref.customer_id))).first()
        if customer is None:  # erased since the mail was sent: nothing left to unsubscribe
            return False
        sent = None
        if ref.idempotency_key is not None:
            sent = (await conn.execute(
                select(outbox.c.id, outbox.c.template, flow_runs.c.flow_id)
                .select_from(outbox.outerjoin(flow_runs, flow_runs.c.id == outbox.c.run_id))
                .where(outbox.c.store_id == store.id, outbox.c.idempotency_key == ref.idempotency_key))).first()
        changed = await record(conn, [Change(
            store.id, customer.id, ConsentStatus.WITHDRAWN, method, EMAIL, MARKETING, wording=wording,
            source_ip=source_ip, outbox_id=sent.id if sent else None)], now)
    if not changed:
        return False
    message = (EventMessageRef(outbox_id=sent.id, flow_id=sent.flow_id, step=ref.step, template=sent.template)
               if sent else None)
    await announce(intake, store, customer.id, customer.external_id, method, now, message)
    return True


async def announce(intake: EventSink, store: StoreRow, customer_id: int, external_id: str, method: ConsentMethod,
                   now: datetime, message: EventMessageRef | None = None) -> None:
    """Store a ``message.unsubscribed`` event, so flows can react (wait for it, exit on it)."""
    await intake.ingest(store, [Event(
        id=f"unsubscribe:{customer_id}:{now.isoformat()}", type=EventType.MESSAGE_UNSUBSCRIBED, occurred_at=now,
        customer={"id": external_id}, message=message, properties={"method": method.value})],
        source="afterorder")

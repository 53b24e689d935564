"""What an event does to flows, inside the event's transaction: start runs, wake runs that wait
for it, and end runs whose flow exits on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import flow_runs, run_log
from afterorder.db.stores import StoreRow
from afterorder.domain import EventType
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.conditions import evaluate
from afterorder.flows.facts import build_facts, load_customer, load_occurrences, load_order
from afterorder.flows.spec import FlowSpec


@dataclass(frozen=True)
class TriggerOutcome:
    started: int = 0
    woken: int = 0
    exited: int = 0


def subject_key(spec: FlowSpec, customer_id: int | None, order_id: int | None) -> str | None:
    if spec.subject == "order":
        return f"order:{order_id}" if order_id is not None else None
    return f"customer:{customer_id}" if customer_id is not None else None


async def _already_ran(conn: AsyncConnection, store_id: int, spec: FlowSpec,
                       customer_id: int | None, order_id: int | None) -> bool:
    if spec.reentry == "always":
        return False
    query = select(flow_runs.c.id).where(flow_runs.c.store_id == store_id, flow_runs.c.flow_id == spec.id)
    if spec.reentry == "once_per_order":
        query = query.where(flow_runs.c.order_id == order_id)
    else:
        query = query.where(flow_runs.c.customer_id == customer_id)
    return (await conn.execute(query.limit(1))).first() is not None


async def apply_event(
    conn: AsyncConnection, catalog: FlowCatalog, store: StoreRow, enabled: Sequence[FlowSpec], *, event_id: int,
    event_type: EventType, occurred_at: datetime, payload: dict[str, Any], customer_id: int | None,
    order_id: int | None, now: datetime,
) -> TriggerOutcome:
    """``enabled`` is the store's enabled flows (the caller loads them once per batch)."""
    exited, woken = await _resume_or_end(conn, catalog, store.id, event_type, customer_id, order_id, now)
    started = 0
    candidates = [s for s in enabled if s.trigger.event == event_type]
    facts_values: dict[str, Any] | None = None
    anchor = min(occurred_at, now)
    for spec in candidates:
        key = subject_key(spec, customer_id, order_id)
        if key is None:
            continue
        if spec.trigger.condition is not None:
            if facts_values is None:
                customer = await load_customer(conn, store.id, customer_id)
                order = await load_order(conn, store.id, order_id)
                facts_values = dict(build_facts(store, customer, order, payload, {}).values)
            if not evaluate(spec.trigger.condition, facts_values):
                continue
        if await _already_ran(conn, store.id, spec, customer_id, order_id):
            continue
        await catalog.remember(conn, store.id, spec, now)
        await conn.execute(flow_runs.insert().values(
            store_id=store.id, flow_id=spec.id, flow_version=spec.version, subject_key=key,
            customer_id=customer_id, order_id=order_id, trigger_event_id=event_id, status="waiting",
            step=0, anchor_at=anchor, wake_at=now, started_at=anchor, updated_at=now,
        ))
        started += 1
    return TriggerOutcome(started=started, woken=woken, exited=exited)


def _same_subject(customer_id: int | None, order_id: int | None) -> Any:
    parts = []
    if order_id is not None:
        parts.append(flow_runs.c.order_id == order_id)
    if customer_id is not None:
        parts.append(and_(flow_runs.c.customer_id == customer_id, flow_runs.c.subject_key.like("customer:%")))
    return or_(*parts) if parts else None


async def _resume_or_end(conn: AsyncConnection, catalog: FlowCatalog, store_id: int, event_type: EventType,
                         customer_id: int | None, order_id: int | None, now: datetime) -> tuple[int, int]:
    """End the subject's runs whose flow exits on this event; wake those waiting for it."""
    subject = _same_subject(customer_id, order_id)
    if subject is None:
        return 0, 0
    rows = (await conn.execute(
        select(flow_runs.c.id, flow_runs.c.flow_id, flow_runs.c.flow_version, flow_runs.c.step,
               flow_runs.c.waiting_for)
        .where(flow_runs.c.store_id == store_id, flow_runs.c.status == "waiting", subject)
    )).all()
    exited = woken = 0
    for row in rows:
        spec = await catalog.version(conn, store_id, row.flow_id, row.flow_version)
        if event_type in spec.exit_on:
            result = await conn.execute(
                flow_runs.update().where(flow_runs.c.id == row.id, flow_runs.c.status == "waiting")
                .values(status="exited", outcome=f"exit_on {event_type.value}", wake_at=None, waiting_for=None,
                        updated_at=now)
            )
            if result.rowcount:
                await conn.execute(run_log.insert().values(
                    store_id=store_id, run_id=row.id, at=now, step=row.step, kind="exited",
                    detail=f"{event_type.value} happened"))
                exited += 1
        elif row.waiting_for == event_type.value:
            await conn.execute(flow_runs.update().where(flow_runs.c.id == row.id, flow_runs.c.status == "waiting")
                               .values(wake_at=now, updated_at=now))
            woken += 1
    return exited, woken


async def occurrences_for_run(conn: AsyncConnection, store_id: int, subject: str,
                              customer_id: int | None, order_id: int | None) -> dict[EventType, list[datetime]]:
    if subject.startswith("order:"):
        return await load_occurrences(conn, store_id, order_id=order_id, customer_id=None)
    return await load_occurrences(conn, store_id, order_id=None, customer_id=customer_id)

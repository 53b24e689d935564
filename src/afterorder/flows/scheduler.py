"""The scheduler: claim due runs with a lease, advance them, and apply the decisions in one
transaction per run (move the run, write rendered messages to the outbox, log the steps)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.clock import Clock
from afterorder.content import Renderer, resolve_locale
from afterorder.db.dialect import insert_ignore, skip_locked
from afterorder.db.schema import flow_runs, outbox, run_log
from afterorder.db.stores import StoreRow, get_store_by_id
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.engine import Advance, RunState, SendDecision, advance
from afterorder.flows.facts import build_facts, load_customer, load_order
from afterorder.flows.triggers import occurrences_for_run
from afterorder.mime import build_email, message_id_for
from afterorder.snapshots import customer_snapshot, order_snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerSettings:
    worker_id: str
    base_url: str = "http://127.0.0.1:8000"
    lease: timedelta = timedelta(seconds=60)
    batch: int = 200


class Scheduler:
    def __init__(self, engine: AsyncEngine, catalog: FlowCatalog, renderer: Renderer, clock: Clock,
                 settings: SchedulerSettings) -> None:
        self.engine = engine
        self.catalog = catalog
        self.renderer = renderer
        self.clock = clock
        self.settings = settings
        self._stores: dict[int, StoreRow] = {}

    async def claim(self) -> list[int]:
        now = self.clock.now()
        until = now + self.settings.lease
        due = and_(
            flow_runs.c.status == "waiting", flow_runs.c.wake_at <= now,
            or_(flow_runs.c.claimed_until.is_(None), flow_runs.c.claimed_until < now),
        )
        async with self.engine.begin() as conn:
            pick = select(flow_runs.c.id).where(due).order_by(flow_runs.c.wake_at).limit(self.settings.batch)
            if skip_locked(conn):
                pick = pick.with_for_update(skip_locked=True)
            ids = [row.id for row in await conn.execute(pick)]
            if ids:
                await conn.execute(
                    flow_runs.update().where(flow_runs.c.id.in_(ids))
                    .values(claimed_until=until, claimed_by=self.settings.worker_id)
                )
        return ids

    async def run_due(self) -> int:
        """Claim and process one batch of due runs; returns how many were processed."""
        ids = await self.claim()
        for run_id in ids:
            try:
                await self.process(run_id)
            except Exception:  # one broken run must not stop the others; it is marked failed
                log.exception("run %s failed", run_id)
                await self._mark_failed(run_id)
        return len(ids)

    async def _store(self, conn: AsyncConnection, store_id: int) -> StoreRow:
        if store_id not in self._stores:
            store = await get_store_by_id(conn, store_id)
            assert store is not None
            self._stores[store_id] = store
        return self._stores[store_id]

    async def process(self, run_id: int) -> Advance | None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            run = (await conn.execute(select(flow_runs).where(
                flow_runs.c.id == run_id, flow_runs.c.claimed_by == self.settings.worker_id,
                flow_runs.c.status == "waiting",
            ))).mappings().first()
            if run is None:
                return None  # ended by an event, or the lease passed to another worker
            store = await self._store(conn, run["store_id"])
            spec = await self.catalog.version(conn, store.id, run["flow_id"], run["flow_version"])
            customer = await load_customer(conn, store.id, run["customer_id"])
            order = await load_order(conn, store.id, run["order_id"])
            occurrences = await occurrences_for_run(conn, store.id, run["subject_key"], run["customer_id"],
                                                    run["order_id"])
            facts = build_facts(store, customer, order, None, occurrences)
            state = RunState(step=run["step"], anchor_at=run["anchor_at"], started_at=run["started_at"],
                             status=run["status"])
            result = advance(state, spec, facts, now)
            for send in result.sends:
                await self._queue(conn, store, run, send, customer, order, now)
            new = result.state
            moved = await conn.execute(
                flow_runs.update().where(
                    flow_runs.c.id == run_id, flow_runs.c.claimed_by == self.settings.worker_id,
                    flow_runs.c.status == "waiting",
                ).values(
                    step=new.step, anchor_at=new.anchor_at, wake_at=new.wake_at, status=new.status,
                    waiting_for=new.waiting_for.value if new.waiting_for else None, outcome=new.outcome,
                    claimed_until=None, claimed_by=None, updated_at=now,
                )
            )
            if not moved.rowcount:
                await conn.rollback()
                return None
            if result.log:
                await conn.execute(run_log.insert(), [
                    {"store_id": store.id, "run_id": run_id, "at": now, "step": e.step, "kind": e.kind,
                     "detail": e.detail} for e in result.log
                ])
        return result

    async def _queue(self, conn: AsyncConnection, store: StoreRow, run: Any, send: SendDecision,
                     customer: dict[str, Any] | None, order: dict[str, Any] | None, now: datetime) -> None:
        key = f"run:{run['id']}:step:{send.step}"
        snapshot = store.snapshot(self.settings.base_url)
        message_id = message_id_for(snapshot, key)
        recipient = (customer or {}).get("email")
        values: dict[str, Any] = {
            "store_id": store.id, "run_id": run["id"], "idempotency_key": key, "message_id": message_id,
            "channel": send.channel, "category": send.category, "template": send.template,
            "customer_id": run["customer_id"], "order_id": run["order_id"],
            "envelope_from": store.email_from, "attempts": 0, "next_attempt_at": now, "created_at": now,
        }
        if not recipient:
            await conn.execute(insert_ignore(conn, outbox).values(
                **values, locale=store.locale, recipient="", subject="", data="", status="skipped",
                last_error="customer has no email address"))
            return
        locale = resolve_locale((customer or {}).get("locale"), self.renderer.locales_for(send.template),
                                store.locale)
        order_snap = order_snapshot(order)
        rendered = self.renderer.render(
            send.template, locale, store=snapshot, customer=customer_snapshot(customer), order=order_snap,
            shipment=order_snap.shipment if order_snap else None,
        )
        data = build_email(snapshot, to=recipient, rendered=rendered, message_id=message_id,
                           category=send.category, date=now)
        await conn.execute(insert_ignore(conn, outbox).values(
            **values, locale=locale, recipient=recipient, subject=rendered.subject,
            data=data.decode("ascii"), status="queued"))

    async def _mark_failed(self, run_id: int) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await conn.execute(flow_runs.update().where(
                flow_runs.c.id == run_id, flow_runs.c.claimed_by == self.settings.worker_id,
            ).values(status="failed", outcome="error while advancing; see the worker log", claimed_until=None,
                     claimed_by=None, wake_at=None, updated_at=now))

    async def next_wake(self) -> datetime | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(flow_runs.c.wake_at).where(flow_runs.c.status == "waiting")
                                      .order_by(flow_runs.c.wake_at).limit(1))).first()
        return row.wake_at if row else None


async def run_loop(step: Any, wake: asyncio.Event, stop: asyncio.Event, idle: float) -> None:
    """Call ``step()`` until told to stop; sleep ``idle`` seconds (or until woken) when it found no work."""
    while not stop.is_set():
        try:
            found = await step()
        except Exception:
            log.exception("worker loop step failed; retrying")
            found = 0
        if found:
            continue
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), timeout=idle)
        except TimeoutError:
            pass




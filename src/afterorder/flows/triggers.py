"""What events do to flows, inside the events' transaction: start runs, wake runs that wait for
them, and end runs whose flow exits on them.

A whole group of events is handled with a few statements: the subjects' waiting runs and earlier
runs are read once, every decision is taken in Python in event order (so a run started by the
first event of a group can be ended by the third), and the writes go out as executemany.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.key_lists import in_keys
from afterorder.db.schema import flow_runs, run_log
from afterorder.db.stores import StoreRow
from afterorder.domain import EventType
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.conditions import customer_side, evaluate
from afterorder.flows.facts import build_facts, load_customer, load_order
from afterorder.flows.spec import FlowSpec
from afterorder.flows.urgency import priority
from afterorder.segments.conditions import answers
from afterorder.segments.membership import context

CHUNK = 500


@dataclass(frozen=True)
class Happened:
    """One stored event, as triggers need it."""

    event_id: int
    type: EventType
    occurred_at: datetime
    payload: dict[str, Any]
    customer_id: int | None
    order_id: int | None


@dataclass
class _Run:
    flow_id: str
    version: str
    customer_id: int | None
    order_id: int | None
    subject: str
    step: int
    waiting_for: str | None
    id: int | None = None  # None: started in this group, not inserted yet
    status: str = "waiting"
    outcome: str | None = None
    woken: bool = False
    row: dict[str, Any] = field(default_factory=dict)


def subject_key(spec: FlowSpec, customer_id: int | None, order_id: int | None,
                checkout_id: str | None = None) -> str | None:
    if spec.subject == "order":
        return f"order:{order_id}" if order_id is not None else None
    if customer_id is None:
        return None
    if spec.reentry == "once_per_checkout":  # still the customer's run; the key tells its checkouts apart
        return f"customer:{customer_id}:checkout:{checkout_id}" if checkout_id else None
    return f"customer:{customer_id}"


def _checkout_id(payload: dict[str, Any]) -> str | None:
    checkout = payload.get("checkout")
    found = checkout.get("id") if isinstance(checkout, dict) else None
    return str(found) if found else None


class _Runs:
    """A group's runs, found by the order and the customer they are about.

    Checking every run against every event made a group quadratic: 1,000 new orders checked about
    half a million pairs, 0.45 s of the intake's 0.8 s (cProfile, in process, SQLite)."""

    def __init__(self, runs: Iterable[_Run]) -> None:
        self.all: list[_Run] = []
        self._by_order: dict[int | None, list[_Run]] = defaultdict(list)
        self._by_customer: dict[int | None, list[_Run]] = defaultdict(list)
        for run in runs:
            self.add(run)

    def add(self, run: _Run) -> None:
        self.all.append(run)
        self._by_order[run.order_id].append(run)
        self._by_customer[run.customer_id].append(run)

    def concerning(self, happened: Happened) -> list[_Run]:
        """The runs ``happened`` is about: an order's runs by its order, a customer's by its customer."""
        about_order = [r for r in self._by_order.get(happened.order_id, ()) if r.subject.startswith("order:")] \
            if happened.order_id is not None else []
        about_customer = [r for r in self._by_customer.get(happened.customer_id, ())
                          if not r.subject.startswith("order:")] if happened.customer_id is not None else []
        return about_order + about_customer

    def of_order(self, order_id: int | None) -> list[_Run]:
        return self._by_order.get(order_id, [])

    def of_customer(self, customer_id: int | None) -> list[_Run]:
        return self._by_customer.get(customer_id, [])


_RUN_COLUMNS = (flow_runs.c.id, flow_runs.c.flow_id, flow_runs.c.flow_version, flow_runs.c.customer_id,
                flow_runs.c.order_id, flow_runs.c.subject_key, flow_runs.c.step, flow_runs.c.waiting_for,
                flow_runs.c.status)
# Built once: every batch of events looks up the runs of its orders and customers.
_RUNS_OF_ORDERS = select(*_RUN_COLUMNS).where(flow_runs.c.store_id == bindparam("store"),
                                              in_keys(flow_runs.c.order_id, "ids"))
_RUNS_OF_CUSTOMERS = select(*_RUN_COLUMNS).where(flow_runs.c.store_id == bindparam("store"),
                                                 in_keys(flow_runs.c.customer_id, "ids"))


async def _existing_runs(conn: AsyncConnection, store_id: int, orders: set[int], customers: set[int]) -> list[Any]:
    found: list[Any] = []
    for ids, query in ((sorted(orders), _RUNS_OF_ORDERS), (sorted(customers), _RUNS_OF_CUSTOMERS)):
        for start in range(0, len(ids), CHUNK):
            found.extend(await conn.execute(query, {"store": store_id, "ids": ids[start:start + CHUNK]}))
    return list({r.id: r for r in found}.values())


async def apply_events(conn: AsyncConnection, catalog: FlowCatalog, store: StoreRow, enabled: Sequence[FlowSpec],
                       group: Sequence[Happened], now: datetime) -> list[int]:
    """Apply a group of stored events in order; returns how many runs each one started."""
    orders = {h.order_id for h in group if h.order_id is not None}
    customers = {h.customer_id for h in group if h.customer_id is not None}
    existing = await _existing_runs(conn, store.id, orders, customers)
    runs = _Runs(_Run(r.flow_id, r.flow_version, r.customer_id, r.order_id, r.subject_key, r.step, r.waiting_for,
                      id=r.id, status=r.status) for r in existing)
    started_counts: list[int] = []
    new_runs: list[_Run] = []
    for happened in group:
        for run in runs.concerning(happened):
            if run.status != "waiting":
                continue
            spec = await catalog.version(conn, store.id, run.flow_id, run.version)
            if happened.type in spec.exit_on:
                run.status, run.outcome = "exited", f"exit_on {happened.type.value}"
            elif run.waiting_for == happened.type.value:
                run.woken = True
        started = 0
        for spec in enabled:
            if spec.trigger.event != happened.type:
                continue
            key = subject_key(spec, happened.customer_id, happened.order_id, _checkout_id(happened.payload))
            if key is None or not await _condition_holds(conn, store, spec, happened, now):
                continue
            if spec.reentry == "once_per_checkout":  # the key names the customer
                if any(r.flow_id == spec.id and r.subject == key for r in runs.of_customer(happened.customer_id)):
                    continue
            elif spec.reentry != "always" and any(r.flow_id == spec.id for r in (
                    runs.of_order(happened.order_id) if spec.reentry == "once_per_order"
                    else runs.of_customer(happened.customer_id))):
                continue
            anchor = min(happened.occurred_at, now)
            run = _Run(spec.id, spec.version, happened.customer_id, happened.order_id, key, 0, None, row={
                "store_id": store.id, "flow_id": spec.id, "flow_version": spec.version, "subject_key": key,
                "customer_id": happened.customer_id, "order_id": happened.order_id,
                "trigger_event_id": happened.event_id, "step": 0, "anchor_at": anchor, "wake_at": now,
                "started_at": anchor, "updated_at": now, "priority": priority(spec, 0)})
            runs.add(run)
            new_runs.append(run)
            started += 1
        started_counts.append(started)
    await _write(conn, catalog, store, enabled, runs.all, new_runs, now)
    return started_counts


async def _condition_holds(conn: AsyncConnection, store: StoreRow, spec: FlowSpec, happened: Happened,
                           now: datetime) -> bool:
    condition = spec.trigger.condition
    if condition is None:
        return True
    customer = await load_customer(conn, store.id, happened.customer_id)
    order = await load_order(conn, store.id, happened.order_id)
    found = {}
    if happened.customer_id is not None and customer_side(condition):
        # the customer side is asked of the database, after this event's statistics were kept
        found = (await answers(conn, await context(conn, store, now), [condition],
                               [happened.customer_id])).get(happened.customer_id, {})
    facts = build_facts(store, customer, order, happened.payload, {}, found)
    return evaluate(condition, facts.values, now)


async def _write(conn: AsyncConnection, catalog: FlowCatalog, store: StoreRow, enabled: Sequence[FlowSpec],
                 runs: list[_Run], new_runs: list[_Run], now: datetime) -> None:
    if new_runs:
        started = {(r.flow_id, r.version) for r in new_runs}
        await catalog.remember(conn, store.id, [s for s in enabled if (s.id, s.version) in started], now)
        await conn.execute(flow_runs.insert(), [
            {**r.row, "status": r.status, "outcome": r.outcome, "wake_at": None if r.status != "waiting" else now}
            for r in new_runs])
    ended = [r for r in runs if r.id is not None and r.status == "exited" and r.outcome]
    if ended:
        await conn.execute(
            flow_runs.update().where(flow_runs.c.id == bindparam("run_id"), flow_runs.c.status == "waiting")
            .values(status="exited", outcome=bindparam("run_outcome"), wake_at=None, waiting_for=None,
                    updated_at=now),
            [{"run_id": r.id, "run_outcome": r.outcome} for r in ended])
        await conn.execute(run_log.insert(), [
            {"store_id": store.id, "run_id": r.id, "at": now, "step": r.step, "kind": "exited",
             "detail": (r.outcome or "").removeprefix("exit_on ") + " happened"} for r in ended])
    woken = [r for r in runs if r.id is not None and r.woken and r.status == "waiting"]
    if woken:
        await conn.execute(
            flow_runs.update().where(flow_runs.c.id == bindparam("run_id"), flow_runs.c.status == "waiting")
            .values(wake_at=now, updated_at=now),
            [{"run_id": r.id} for r in woken])

"""One path for every event: in one transaction append it (deduped on the store's id), update
the projections (customers, orders, lines, the product catalog), then hand the stored events to
the projectors built once at start-up (intake/projectors.py: statistics, tracking, consent and
coupons, flow runs started / woken / ended, restocks).

History (``ingest_history``, what ``afterorder import`` sends, or ``ingest(..., historical=True)``)
is stored and projected with the same results, set-based (intake/history_batches.py), and never
reaches flows: a 2019 order gets no confirmation mail.

Requests that arrive together are committed together (group commit): each caller waits for the
transaction that holds its events, so an answer of 200 always means stored.  A batch that fails is
retried request by request, so one request's problem never costs another its events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.clock import Clock
from afterorder.db.catalog import project_products
from afterorder.db.events import DuplicateRace, StoredEvent, append_events, event_row, stored_ids
from afterorder.db.history_rows import Prepared, prepare
from afterorder.db.projections import event_subject_ids, project_customers, project_orders
from afterorder.db.stores import StoreRow
from afterorder.domain import Event
from afterorder.flows.catalog import FlowCatalog
from afterorder.intake.history_batches import HistoryRequest, store_history
from afterorder.intake.projectors import Projector, live_projectors
from afterorder.tracking.projection import message_subjects


@dataclass(frozen=True)
class Accepted:
    id: str
    status: str  # "stored" | "duplicate"
    runs_started: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "runs_started": self.runs_started}


@dataclass
class _Request:
    store: StoreRow
    events: Sequence[Event]  # live events
    raw: Sequence[Any] | None
    source: str
    history: Sequence[Prepared] | None = None  # history instead (``events`` is then empty)
    stats_later: bool = False
    done: asyncio.Future[list[Accepted]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def size(self) -> int:
        return len(self.history) if self.history is not None else len(self.events)


class Intake:
    """Stores events and hands them to flows.  ``on_change`` is told when runs may be due."""

    def __init__(self, engine: AsyncEngine, catalog: FlowCatalog, clock: Clock,
                 on_change: Callable[[], None] | None = None, *, max_group: int = 500,
                 projectors: Sequence[Projector] | None = None) -> None:
        self.engine = engine
        self.catalog = catalog
        self.projectors = tuple(projectors) if projectors is not None else live_projectors(catalog)
        self.clock = clock
        self.on_change = on_change
        self.max_group = max_group
        self._queue: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None

    async def ingest(self, store: StoreRow, batch: Sequence[Event], *, source: str = "api",
                     raw: Sequence[Any] | None = None, historical: bool = False,
                     stats_later: bool = False) -> list[Accepted]:
        """Store a request's events, all together or not at all; returns one answer per event.

        ``historical=True`` marks past events brought in by an import: they are stored and projected
        like any other, but start, wake and end no flow runs (``ingest_history``)."""
        if historical:
            return await self.ingest_history(store, [
                prepare(event, raw[i] if raw is not None else None, store.currency) for i, event in enumerate(batch)],
                source=source, stats_later=stats_later)
        return await self._enqueue(_Request(store, batch, raw, source))

    async def ingest_history(self, store: StoreRow, batch: Sequence[Prepared], *, source: str = "import",
                             stats_later: bool = False) -> list[Accepted]:
        """Store past events, prepared (``db.history_rows.prepare``), all together or not at all:
        stored and projected like live events, but they start, wake and end no flow runs.  With
        ``stats_later=True`` the customers' statistics are left to the caller, who refreshes them
        once at its end (``refresh_stale_stats``) instead of once per batch."""
        return await self._enqueue(_Request(store, (), None, source, batch, stats_later))

    async def _enqueue(self, request: _Request) -> list[Accepted]:
        self._queue.append(request)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await asyncio.shield(request.done)

    async def _drain(self) -> None:
        while self._queue:
            group: list[_Request] = []
            size = 0
            while self._queue and (not group or size + self._queue[0].size <= self.max_group):
                request = self._queue.pop(0)
                group.append(request)
                size += request.size
            try:
                answers = await self._store_group(group)
            except Exception:
                if len(group) == 1:
                    await self._store_alone(group[0])
                    continue
                for request in group:
                    await self._store_alone(request)
                continue
            for request, answer in zip(group, answers, strict=True):
                if not request.done.done():
                    request.done.set_result(answer)
            self._changed(answers)

    async def _store_alone(self, request: _Request) -> None:
        try:
            answers = await self._store_group([request])
        except DuplicateRace:
            try:
                answers = await self._store_group([request])
            except Exception as exc:
                request.done.set_exception(exc)
                return
        except Exception as exc:
            request.done.set_exception(exc)
            return
        request.done.set_result(answers[0])
        self._changed(answers)

    def _changed(self, answers: list[list[Accepted]]) -> None:
        if self.on_change and any(a.status == "stored" for answer in answers for a in answer):
            self.on_change()

    async def _store_group(self, group: list[_Request]) -> list[list[Accepted]]:
        now = self.clock.now()
        answers: dict[int, list[Accepted]] = {}
        async with self.engine.begin() as conn:
            for store_id in dict.fromkeys(r.store.id for r in group):
                mine = [(i, r) for i, r in enumerate(group) if r.store.id == store_id]
                for i, answer in zip([i for i, _ in mine], await self._store_one_store(conn, [r for _, r in mine], now),
                                     strict=True):
                    answers[i] = answer
        return [answers[i] for i in range(len(group))]

    async def _store_one_store(self, conn: AsyncConnection, requests: list[_Request], now: datetime
                               ) -> list[list[Accepted]]:
        store = requests[0].store
        answers: dict[int, list[Accepted]] = {}
        history = [(r, HistoryRequest(r.history, r.source, r.stats_later)) for r in requests if r.history is not None]
        if history:  # an import's batch: set-based, never near flows
            stored = await store_history(conn, store, [h for _, h in history], now)
            for (request, batch), flags in zip(history, stored, strict=True):
                answers[id(request)] = [Accepted(e.id, "stored" if new else "duplicate")
                                        for e, new in zip(batch.events, flags, strict=True)]
        live = [r for r in requests if r.history is None]
        if live:
            for request, answer in zip(live, await self._store_live(conn, store, live, now), strict=True):
                answers[id(request)] = answer
        return [answers[id(r)] for r in requests]

    async def _store_live(self, conn: AsyncConnection, store: StoreRow, requests: list[_Request], now: datetime
                          ) -> list[list[Accepted]]:
        seen = await stored_ids(conn, store.id, (e.id for r in requests for e in r.events))
        fresh: list[tuple[Event, Any, str]] = []
        duplicate: set[tuple[int, int]] = set()
        for n, request in enumerate(requests):
            for index, event in enumerate(request.events):
                if event.id in seen:
                    duplicate.add((n, index))
                    continue
                seen.add(event.id)
                fresh.append((event, request.raw[index] if request.raw is not None else None, request.source))
        new_events = [e for e, _, _ in fresh]
        customer_ids = await project_customers(conn, store.id, new_events, now)
        order_ids = await project_orders(conn, store.id, store.currency, new_events, customer_ids, now)
        await project_products(conn, store.id, store.currency, new_events)
        subjects = await message_subjects(conn, store.id, [(e, source) for e, _, source in fresh])
        rows, happened = [], []
        for event, raw, source in fresh:
            customer_id, order_id = event_subject_ids(event, customer_ids, order_ids, subjects)
            payload = event.model_dump(mode="json")
            rows.append(event_row(store.id, source, event.id, event.type.value, event.occurred_at, now,
                                  customer_id, order_id, payload, raw))
            happened.append((event, payload, customer_id, order_id))
        event_ids = await append_events(conn, store.id, rows)
        stored = [StoredEvent(event_ids[e.id], e, source, customer_id, order_id, payload)
                  for (_, _, source), (e, payload, customer_id, order_id) in zip(fresh, happened, strict=True)]
        started_by_id: dict[str, int] = {}
        if stored:
            for project in self.projectors:  # stats, tracking, what is left behind, flows, restocks
                started_by_id.update(await project(conn, store, stored, now) or {})
        return [[Accepted(event.id, "duplicate") if (n, index) in duplicate
                 else Accepted(event.id, "stored", started_by_id.get(event.id, 0))
                 for index, event in enumerate(request.events)] for n, request in enumerate(requests)]

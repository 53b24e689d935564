"""One path for every event: in one transaction append it (deduped on the store's id), update
the projections, and start / wake / end flow runs.

Requests that arrive together are committed together (group commit): each caller waits for the
transaction that holds its events, so an answer of 200 always means stored.  A batch that fails is
retried request by request, so one request's problem never costs another its events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.clock import Clock
from afterorder.db.events import DuplicateRace, record_event, stored_ids
from afterorder.db.stores import StoreRow
from afterorder.domain import Event
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.triggers import apply_event


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
    events: Sequence[Event]
    raw: Sequence[Any] | None
    source: str
    done: asyncio.Future[list[Accepted]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Intake:
    """Stores events and hands them to flows.  ``on_change`` is told when runs may be due."""

    def __init__(self, engine: AsyncEngine, catalog: FlowCatalog, clock: Clock,
                 on_change: Callable[[], None] | None = None, *, max_group: int = 500) -> None:
        self.engine = engine
        self.catalog = catalog
        self.clock = clock
        self.on_change = on_change
        self.max_group = max_group
        self._queue: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None

    async def ingest(self, store: StoreRow, batch: Sequence[Event], *, source: str = "api",
                     raw: Sequence[Any] | None = None) -> list[Accepted]:
        """Store a request's events, all together or not at all; returns one answer per event."""
        request = _Request(store, batch, raw, source)
        self._queue.append(request)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await asyncio.shield(request.done)

    async def _drain(self) -> None:
        while self._queue:
            group: list[_Request] = []
            size = 0
            while self._queue and (not group or size + len(self._queue[0].events) <= self.max_group):
                request = self._queue.pop(0)
                group.append(request)
                size += len(request.events)
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
        out: list[list[Accepted]] = []
        async with self.engine.begin() as conn:
            by_store: dict[int, tuple[set[str], Any]] = {}
            for request in group:
                if request.store.id not in by_store:
                    ids = [e.id for r in group if r.store.id == request.store.id for e in r.events]
                    by_store[request.store.id] = (await stored_ids(conn, request.store.id, ids),
                                                  await self.catalog.enabled(conn, request.store))
            for request in group:
                seen, enabled = by_store[request.store.id]
                answer: list[Accepted] = []
                for index, event in enumerate(request.events):
                    if event.id in seen:
                        answer.append(Accepted(event.id, "duplicate"))
                        continue
                    seen.add(event.id)
                    recorded = await record_event(
                        conn, request.store.id, request.store.currency, event, source=request.source,
                        raw=request.raw[index] if request.raw is not None else None, now=now,
                    )
                    outcome = await apply_event(
                        conn, self.catalog, request.store, enabled, event_id=recorded.event_id,
                        event_type=event.type, occurred_at=event.occurred_at, payload=event.model_dump(mode="json"),
                        customer_id=recorded.customer_id, order_id=recorded.order_id, now=now,
                    )
                    answer.append(Accepted(event.id, "stored", outcome.started))
                out.append(answer)
        return out

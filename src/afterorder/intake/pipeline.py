"""One path for every event: in one transaction append it (deduped on the store's id), update
the projections, and start / wake / end flow runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.clock import Clock
from afterorder.db.events import DuplicateRace, find_event, record_event
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


class Intake:
    """Stores events and hands them to flows.  ``on_change`` is told when runs may be due."""

    def __init__(self, engine: AsyncEngine, catalog: FlowCatalog, clock: Clock,
                 on_change: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.catalog = catalog
        self.clock = clock
        self.on_change = on_change

    async def ingest(self, store: StoreRow, batch: Sequence[Event], *, source: str = "api",
                     raw: Sequence[Any] | None = None) -> list[Accepted]:
        """All events of a batch are stored together or not at all."""
        try:
            results = await self._ingest_once(store, batch, source, raw)
        except DuplicateRace:
            results = await self._ingest_once(store, batch, source, raw)
        if self.on_change and any(r.status == "stored" for r in results):
            self.on_change()
        return results

    async def _ingest_once(self, store: StoreRow, batch: Sequence[Event], source: str,
                           raw: Sequence[Any] | None) -> list[Accepted]:
        now = self.clock.now()
        results: list[Accepted] = []
        async with self.engine.begin() as conn:
            for index, event in enumerate(batch):
                if await find_event(conn, store.id, event.id) is not None:
                    results.append(Accepted(event.id, "duplicate"))
                    continue
                recorded = await record_event(
                    conn, store.id, store.currency, event, source=source,
                    raw=raw[index] if raw is not None else None, now=now,
                )
                outcome = await apply_event(
                    conn, self.catalog, store, event_id=recorded.event_id, event_type=event.type,
                    occurred_at=event.occurred_at, payload=event.model_dump(mode="json"),
                    customer_id=recorded.customer_id, order_id=recorded.order_id, now=now,
                )
                results.append(Accepted(event.id, "stored", outcome.started))
        return results

"""Running an import: records from a file go to the intake pipeline in large batches of prepared
events, as history (stored and projected, never handed to flows), while the next batch is parsed,
in this process or (``parse_process=True``, what ``afterorder import`` does) in a process of its
own.  Customer statistics are computed once per customer at the end, not once per batch.

Each batch is one transaction of a few thousand events written with a handful of executemany
statements (bench/import_orders.py measures a 100,000-order export).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.customer_stats import refresh_stale_stats
from afterorder.db.history_rows import Prepared
from afterorder.db.schema import customers
from afterorder.db.stores import StoreRow
from afterorder.history.batches import BATCH_EVENTS, PreparedBatch, inline_batches
from afterorder.history.formats import Source
from afterorder.history.parse_process import Job, process_batches
from afterorder.history.records import Rejected
from afterorder.intake.pipeline import Intake

CHUNK = 500
SOURCE = "import"
ANALYZED = ("events", "customers", "orders", "order_lines", "products")


@dataclass
class ImportReport:
    file: str
    kind: str
    format: str
    records: int = 0  # good records read (orders, customers, products, events)
    new: int = 0  # records with at least one event not stored before
    unchanged: int = 0  # records whose every event was already stored (a re-run)
    events_stored: int = 0
    events_duplicate: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "kind": self.kind, "format": self.format, "historical": True,
                "flows_triggered": False, "records": self.records, "new": self.new, "unchanged": self.unchanged,
                "events_stored": self.events_stored, "events_duplicate": self.events_duplicate,
                "rejected": len(self.rejected), "seconds": round(self.seconds, 2)}


async def _known_emails(conn: AsyncConnection, store_id: int, emails: set[str]) -> dict[str, str]:
    """The store's customer key for each email it already knows (a customers import done first)."""
    found: dict[str, str] = {}
    wanted = sorted(emails)
    for start in range(0, len(wanted), CHUNK):
        rows = await conn.execute(
            select(customers.c.email, customers.c.external_id).where(
                customers.c.store_id == store_id, customers.c.email.in_(wanted[start:start + CHUNK]))
            .order_by(customers.c.id))
        for r in rows:
            # a customer with the store's own id wins over one known only by email
            if r.email not in found or found[r.email].startswith("email:"):
                found[r.email] = r.external_id
    return found


async def _has_customers_with_ids(engine: AsyncEngine, store_id: int) -> bool:
    """Whether the store knows any customer by its own id and an email (one an order could join)."""
    async with engine.connect() as conn:
        found = await conn.execute(select(customers.c.id).where(
            customers.c.store_id == store_id, customers.c.email.is_not(None),
            customers.c.external_id.not_like("email:%")).limit(1))
        return found.first() is not None


async def _link_customers(engine: AsyncEngine, store: StoreRow, events: list[Prepared]) -> None:
    """Orders that name their customer by email only join the customer the store already has
    under its own id, rather than starting a second one."""
    anonymous = [p for p in events if p.email_only is not None]
    if not anonymous:
        return
    async with engine.connect() as conn:
        known = await _known_emails(conn, store.id, {p.email_only for p in anonymous if p.email_only is not None})
    for placed in anonymous:
        key = known.get(placed.email_only or "")
        if key is not None:
            placed.join_customer(key)


async def prepare_engine(engine: AsyncEngine) -> None:
    """On PostgreSQL, plan every statement of this engine's connections for its own parameters.

    During an import the tables grow from empty to hundreds of thousands of rows; a prepared
    statement's generic plan made while they were small (a sequential scan) would be kept for the
    rest of the run and make each dedupe lookup scan the whole table."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine.sync_engine, "connect")
    def _custom_plans(dbapi_connection: Any, _record: Any) -> None:
        # straight on the driver's connection, outside any transaction, so it is not rolled back
        dbapi_connection.run_async(lambda raw: raw.execute("SET plan_cache_mode = force_custom_plan"))

    await engine.dispose()  # connections opened before this point do not have the setting


async def refresh_statistics(engine: AsyncEngine) -> None:
    """After a bulk load, let PostgreSQL's planner see the tables' new sizes."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as conn:
        await conn.execute(text(f"ANALYZE {', '.join(ANALYZED)}"))
        await conn.commit()


async def _refresh_stats(engine: AsyncEngine, store: StoreRow, since: datetime, intake: Intake) -> None:
    async with engine.begin() as conn:
        await refresh_stale_stats(conn, store.id, store.country, since, intake.clock.now())


async def import_file(engine: AsyncEngine, intake: Intake, store: StoreRow, source: Source, *,
                      batch_events: int = BATCH_EVENTS, on_progress: Callable[[int], None] | None = None,
                      parse_process: bool = False) -> ImportReport:
    """Import every good record of ``source`` as history; collect the rejected ones in the report.

    With ``parse_process`` the file is parsed in a process of its own (history/parse_process.py)."""
    report = ImportReport(file=source.path.name, kind=source.kind, format=source.format)
    started = time.perf_counter()
    since = intake.clock.now()
    pending: asyncio.Task[None] | None = None
    # linking by email costs a query per batch: only when some customer could be joined
    linking = await _has_customers_with_ids(engine, store.id)

    async def store_batch(batch: PreparedBatch) -> None:
        nonlocal linking
        linking = linking or any(p.names_customer for p in batch.events)
        if linking:
            await _link_customers(engine, store, batch.events)
        answers = await intake.ingest_history(store, batch.events, source=SOURCE, stats_later=True)
        stored = {a.id for a in answers if a.status == "stored"}
        report.events_stored += len(stored)
        report.events_duplicate += len(answers) - len(stored)
        for record in batch.records():
            if any(p.id in stored for p in record):
                report.new += 1
            else:
                report.unchanged += 1
        if on_progress:
            on_progress(batch.position)

    if parse_process:
        stream = process_batches(Job(str(source.path), source.kind, source.file_format, source.context,
                                     store.currency, batch_events))
    else:
        stream = inline_batches(source.records, store.currency, source.position, batch_events)
    try:
        async with contextlib.aclosing(stream):
            # the next batch is parsed while the one before is written
            async for batch in stream:
                if pending is not None:
                    await pending
                    pending = None
                report.rejected.extend(batch.rejected)
                report.records += len(batch.sizes)
                if batch.events:
                    pending = asyncio.create_task(store_batch(batch))
                elif on_progress:
                    on_progress(batch.position)
        if pending is not None:
            await pending
    except Exception:
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
        with contextlib.suppress(Exception):  # the batches stored so far get their statistics
            await _refresh_stats(engine, store, since, intake)
        raise
    await _refresh_stats(engine, store, since, intake)
    if on_progress:
        on_progress(source.size)
    report.rejected.sort(key=lambda r: r.row)
    report.seconds = time.perf_counter() - started
    return report

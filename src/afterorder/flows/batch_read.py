"""The scheduler's read phase: the claimed runs of a batch and everything they may look at (their
facts, stores, flows, consents, A/B tests, …), read with one query per table in one short
transaction on the reader engine (``database.open_reader``), so advancing them needs no more reads.
A store's details are cached for ``STORE_CACHE_SECONDS``.

``read_lean`` is the wake's read (``flows/scheduler.py``): the claimed runs with only what the engine
needs to advance a run that only waits (their flows and what happened to their subjects: two
queries for a whole claim); the runs that turn out to need more go through ``read``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.abtests.model import AbTest
from afterorder.abtests.records import live_tests
from afterorder.channels.base import ChannelKind
from afterorder.compliance.message import Planner, load_planner
from afterorder.content import Renderer
from afterorder.content.overrides import StoreRenderers
from afterorder.content.store_content import StoreContent
from afterorder.db.key_lists import in_keys, unindexed
from afterorder.db.schema import flow_runs
from afterorder.db.stores import StoreRow, get_store_by_id
from afterorder.domain import StoreSnapshot
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.channel_choice import StoreReach
from afterorder.flows.conditions import ConditionError, CustomerSide, customer_side
from afterorder.flows.engine import events_looked_at
from afterorder.flows.extras import trigger_payloads
from afterorder.flows.facts import ManyFacts, ManyOccurrences, load_many, load_occurrences
from afterorder.flows.followups import enrich
from afterorder.flows.reach import load_reach, sms_consents
from afterorder.flows.spec import FlowError, FlowSpec
from afterorder.segments.conditions import answers
from afterorder.segments.membership import context
from afterorder.tracking.settings import TrackingSettings, TrackingSettingsCache

log = logging.getLogger(__name__)
STORE_CACHE_SECONDS = 60.0

# The claimed runs still ours and waiting (an event may have ended one since the claim).
_CLAIMED = select(flow_runs).where(
    in_keys(flow_runs.c.id, "ids"), flow_runs.c.claimed_by == bindparam("worker"),
    unindexed(flow_runs.c.status) == "waiting").order_by(flow_runs.c.id)
# The same, with only the columns a wake looks at and writes back (a claim of thousands: fewer values
# to convert).
_CLAIMED_LEAN = select(
    flow_runs.c.id, flow_runs.c.store_id, flow_runs.c.flow_id, flow_runs.c.flow_version, flow_runs.c.subject_key,
    flow_runs.c.customer_id, flow_runs.c.order_id, flow_runs.c.status, flow_runs.c.step, flow_runs.c.anchor_at,
    flow_runs.c.started_at, flow_runs.c.waiting_for, flow_runs.c.priority,
).where(in_keys(flow_runs.c.id, "ids"), flow_runs.c.claimed_by == bindparam("worker"),
        unindexed(flow_runs.c.status) == "waiting").order_by(flow_runs.c.id)


@dataclass(frozen=True)
class LeanRead:
    """A claim's runs with their flows (None: the stored version cannot be read; the full read says
    why) and what happened to their subjects: all a run that only waits looks at."""

    runs: Sequence[Any]
    specs: dict[tuple[int, str, str], FlowSpec | None]
    occurrences: ManyOccurrences


@dataclass(frozen=True)
class BatchRead:
    """What a batch's runs may look at, read in one transaction."""

    runs: Sequence[Any]
    facts: ManyFacts
    planner: Planner
    stores: dict[int, tuple[StoreRow, StoreSnapshot]]
    tracking: dict[int, TrackingSettings]
    specs: dict[tuple[int, str, str], FlowSpec]
    customer_answers: dict[tuple[int, int], dict[CustomerSide, bool]]
    renderer_of: dict[int, Renderer]
    content: dict[int, StoreContent]
    triggers: dict[int, dict[str, Any]]
    tests: dict[tuple[int, str, int], AbTest]
    reach: dict[int, StoreReach]
    sms_yes: set[tuple[int, int]]


class BatchReader:
    """Reads batches of claimed runs for the worker ``worker_id``."""

    def __init__(self, reader: AsyncEngine, catalog: FlowCatalog, renderers: StoreRenderers | None, worker_id: str,
                 base_url: str) -> None:
        self.reader = reader
        self.catalog = catalog
        self.renderers = renderers
        self.worker_id = worker_id
        self.base_url = base_url
        self._stores: dict[int, tuple[StoreRow, StoreSnapshot, float]] = {}
        self._tracking = TrackingSettingsCache()

    async def read_lean(self, ids: Sequence[int]) -> LeanRead:
        """The claimed runs ``ids`` still ours and waiting, their flows and their subjects' events."""
        async with self.reader.connect() as conn:
            runs = (await conn.execute(_CLAIMED_LEAN, {"ids": list(ids), "worker": self.worker_id})
                    ).mappings().all()
            specs: dict[tuple[int, str, str], FlowSpec | None] = {}
            for key in {(r["store_id"], r["flow_id"], r["flow_version"]) for r in runs}:
                try:
                    specs[key] = await self.catalog.version(conn, *key)
                except (LookupError, FlowError):  # not stored, or no longer parses
                    specs[key] = None
            kinds = {kind for spec in specs.values() if spec is not None for kind in events_looked_at(spec)}
            occurrences = await load_occurrences(conn, runs, kinds) if runs else ManyOccurrences({}, {})
            await conn.rollback()
        return LeanRead(runs, specs, occurrences)

    async def read(self, ids: Sequence[int], now: datetime) -> BatchRead | None:
        """The claimed runs ``ids`` still ours and everything they may look at (None: none is ours)."""
        async with self.reader.connect() as conn:
            runs = (await conn.execute(_CLAIMED, {"ids": list(ids), "worker": self.worker_id})
                    ).mappings().all()
            if not runs:
                return None
            facts = await load_many(conn, runs)
            planner = await load_planner(conn, [(r["store_id"], r["customer_id"]) for r in runs])
            stores = {r["store_id"]: await self._store(conn, r["store_id"]) for r in runs}
            tracking = {sid: await self._tracking.get(conn, store) for sid, (store, _) in stores.items()}
            specs = {(r["store_id"], r["flow_id"], r["flow_version"]): await self.catalog.version(
                conn, r["store_id"], r["flow_id"], r["flow_version"]) for r in runs}
            customer_answers = await self._customer_answers(conn, runs, stores, specs, now)
            renderer_of = {sid: await self.renderers.for_store(conn, sid) for sid in stores} if self.renderers else {}
            content = await enrich(conn, {sid: store for sid, (store, _) in stores.items()}, facts,
                                   cycles=any("order.replenish" in spec.source for spec in specs.values()))
            triggers = await trigger_payloads(conn, runs)
            tests = await live_tests(conn, stores)
            reach = await load_reach(conn, stores, now)
            sms_yes = (await sms_consents(conn, [(r["store_id"], r["customer_id"]) for r in runs])
                       if any(ChannelKind.SMS in reach[sid].configured for sid in stores) else set())
            await conn.rollback()
        return BatchRead(runs, facts, planner, stores, tracking, specs, customer_answers, renderer_of, content,
                         triggers, tests, reach, sms_yes)

    @staticmethod
    async def _customer_answers(conn: AsyncConnection, runs: Sequence[Any], stores: dict[int, Any],
                                specs: dict[tuple[int, str, str], FlowSpec],
                                now: datetime) -> dict[tuple[int, int], dict[CustomerSide, bool]]:
        """The customer side of the flows' ``if`` steps, asked of the database now: one query per store."""
        found: dict[tuple[int, int], dict[CustomerSide, bool]] = {}
        for store_id, (store, _) in stores.items():
            mine = [r for r in runs if r["store_id"] == store_id and r["customer_id"] is not None]
            conditions = [c for key in {(r["store_id"], r["flow_id"], r["flow_version"]) for r in mine}
                          for c in specs[key].step_conditions() if customer_side(c)]
            if not conditions:
                continue
            try:
                by_customer = await answers(conn, await context(conn, store, now), conditions,
                                            [r["customer_id"] for r in mine])
            except ConditionError:  # e.g. a flow names a segment the store deleted: its conditions read false
                log.exception("store %s: a flow condition cannot be compiled", store.slug)
                continue
            found.update({(store_id, customer_id): a for customer_id, a in by_customer.items()})
        return found

    async def _store(self, conn: AsyncConnection, store_id: int) -> tuple[StoreRow, StoreSnapshot]:
        cached = self._stores.get(store_id)
        if cached is None or cached[2] < time.monotonic():  # a store's details are re-read every minute
            store = await get_store_by_id(conn, store_id)
            assert store is not None
            cached = (store, store.snapshot(self.base_url), time.monotonic() + STORE_CACHE_SECONDS)
            self._stores[store_id] = cached
        return cached[0], cached[1]

"""The scheduler: claim due runs with a lease, then advance them in batches, one transaction per
batch: load the runs and everything they may look at with one query per table, advance each run
(pure), render its messages, and write the moves, the outbox rows and the log with one statement
each.  A run that cannot be advanced (say its template fails to render) is marked failed in the
same batch; the others go on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.abtests.model import AbTest
from afterorder.abtests.records import live_tests
from afterorder.abtests.split import choose
from afterorder.channels.base import ChannelKind
from afterorder.clock import Clock
from afterorder.compliance.message import load_planner
from afterorder.content import Renderer
from afterorder.content.overrides import StoreRenderers
from afterorder.db.dialect import skip_locked
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import flow_runs, outbox, outbox_bodies, run_log
from afterorder.db.statements import execute_many, insert_ignore
from afterorder.db.stores import StoreRow, get_store_by_id
from afterorder.delivery.worker import FALLBACK_SUFFIX
from afterorder.domain import StoreSnapshot
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.composers import ComposeFailure, Composer, InlineComposer
from afterorder.flows.conditions import ConditionError, CustomerSide, customer_side
from afterorder.flows.engine import Advance, RunState, SendDecision, advance
from afterorder.flows.facts import build_facts, load_many
from afterorder.flows.followups import enrich, message_extra
from afterorder.flows.outgoing import BODY_COLUMNS, COLUMNS, Chosen, Outgoing, prepare
from afterorder.flows.reach import load_reach, sms_consents
from afterorder.flows.spec import FlowSpec
from afterorder.promotions.extras import empty_extras, promotion_extras, trigger_payloads
from afterorder.segments.conditions import answers
from afterorder.segments.membership import context
from afterorder.tracking.settings import TrackingSettingsCache

log = logging.getLogger(__name__)
STORE_CACHE_SECONDS = 60.0

FAILED_OUTCOME = "error while advancing; see the worker log"


@dataclass(frozen=True)
class SchedulerSettings:
    worker_id: str
    base_url: str = "http://127.0.0.1:8000"
    lease: timedelta = timedelta(seconds=60)
    batch: int = 200  # runs claimed at once
    chunk: int = 50  # runs read, rendered and written together


# One statement moves every run of a batch (executemany); the guard keeps a run another worker
# took over, or an event ended, out of reach.
_MOVE = flow_runs.update().where(
    flow_runs.c.id == bindparam("run_id"), flow_runs.c.claimed_by == bindparam("worker"),
    flow_runs.c.status == "waiting",
)


# The claim and the reads of claimed runs, built once (they run for every batch).
_PICK = (select(flow_runs.c.id).where(
    flow_runs.c.status == "waiting", flow_runs.c.wake_at <= bindparam("now"),
    or_(flow_runs.c.claimed_until.is_(None), flow_runs.c.claimed_until < bindparam("now")),
).order_by(flow_runs.c.wake_at).limit(bindparam("batch")))
_PICK_LOCKED = _PICK.with_for_update(skip_locked=True)
_CLAIM = flow_runs.update().where(in_keys(flow_runs.c.id, "ids")).values(
    claimed_until=bindparam("until"), claimed_by=bindparam("worker"))
_CLAIMED = select(flow_runs).where(
    in_keys(flow_runs.c.id, "ids"), flow_runs.c.claimed_by == bindparam("worker"),
    flow_runs.c.status == "waiting").order_by(flow_runs.c.id)
_RECHECK = select(flow_runs.c.id, flow_runs.c.step).where(
    in_keys(flow_runs.c.id, "ids"), flow_runs.c.claimed_by == bindparam("worker"),
    flow_runs.c.status == "waiting")
_RECHECK_LOCKED = _RECHECK.with_for_update()
_RELEASE = flow_runs.update().where(in_keys(flow_runs.c.id, "ids"), flow_runs.c.claimed_by == bindparam("worker")
                                    ).values(claimed_until=None, claimed_by=None)


@dataclass
class _Writes:
    moves: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    log: list[dict[str, Any]]


class Scheduler:
    def __init__(self, engine: AsyncEngine, catalog: FlowCatalog, renderer: Renderer, clock: Clock,
                 settings: SchedulerSettings, renderers: StoreRenderers | None = None,
                 reader: AsyncEngine | None = None, composer: Composer | None = None,
                 stop: asyncio.Event | None = None) -> None:
        """``renderers`` gives each store its renderer (with the templates it edited in the dashboard);
        ``reader`` is the engine the runs and their facts are read with (``database.open_reader``);
        ``composer`` renders and builds the messages (in this process unless given helper processes);
        ``stop``, once set, ends a claimed batch between chunks and gives the rest back at once."""
        self.engine = engine
        self.reader = reader or engine
        self.catalog = catalog
        self.renderer = renderer
        self.renderers = renderers
        self.composer = composer or InlineComposer()
        self.stop = stop or asyncio.Event()
        self.clock = clock
        self.settings = settings
        self._stores: dict[int, tuple[StoreRow, StoreSnapshot, float]] = {}
        self._tracking = TrackingSettingsCache()

    async def claim(self) -> list[int]:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            pick = _PICK_LOCKED if skip_locked(conn) else _PICK
            ids = [row.id for row in await conn.execute(pick, {"now": now, "batch": self.settings.batch})]
            if ids:
                await conn.execute(_CLAIM, {"ids": ids, "until": now + self.settings.lease,
                                            "worker": self.settings.worker_id})
        return ids

    async def run_due(self) -> int:
        """Claim and process one batch of due runs; returns how many were processed.  Told to stop, the
        chunk being advanced is finished and the runs not yet started are released (due again now)."""
        if self.stop.is_set():
            return 0
        ids = await self.claim()
        chunk = max(self.settings.chunk, 1)
        for start in range(0, len(ids), chunk):
            if self.stop.is_set():
                await self._release(ids[start:])
                return start
            await self._advance_safely(ids[start:start + chunk])
        return len(ids)

    async def _release(self, ids: list[int]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_RELEASE, {"ids": ids, "worker": self.settings.worker_id})

    async def _advance_safely(self, ids: list[int]) -> None:
        try:
            await self.advance_batch(ids)
            return
        except Exception:  # e.g. the database refused the batch: find the run that breaks it
            if len(ids) == 1:
                log.exception("run %s failed", ids[0])
                await self._mark_failed(ids[0])
                return
            log.exception("a batch of %d runs failed; advancing them one by one", len(ids))
        for run_id in ids:
            await self._advance_safely([run_id])

    async def advance_batch(self, ids: Sequence[int]) -> dict[int, Advance]:
        """Advance the claimed runs ``ids``; returns what happened to each run that was still ours and
        waiting (a run whose advance failed is marked failed and left out).

        The runs and their facts are read in one short transaction; messages are rendered with no
        transaction open (the lease keeps the runs ours); the results are written in a second one,
        which first checks again, under lock, which runs are still ours, waiting, at the same step:
        an event may have ended one meanwhile, and then nothing of it is written."""
        now = self.clock.now()
        results: dict[int, Advance] = {}
        writes = _Writes([], [], [])
        async with self.reader.connect() as conn:
            runs = (await conn.execute(_CLAIMED, {"ids": list(ids), "worker": self.settings.worker_id})
                    ).mappings().all()
            if not runs:
                return results  # ended by events, or the lease passed to another worker
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
        locales: dict[str, list[str]] = {}
        step_of: dict[int, int] = {}
        prepared: list[tuple[Any, Advance, Renderer, list[Outgoing]]] = []
        for run in runs:
            await asyncio.sleep(0)  # CPU work: let the other tasks of the process have a turn
            store, snapshot = stores[run["store_id"]]
            step_of[run["id"]] = run["step"]
            try:
                spec = specs[(run["store_id"], run["flow_id"], run["flow_version"])]
                customer = facts.customer(store.id, run["customer_id"])
                order = facts.order(store.id, run["order_id"])
                occurrences = facts.occurrences(store.id, run["subject_key"], run["customer_id"], run["order_id"])
                state = RunState(step=run["step"], anchor_at=run["anchor_at"], started_at=run["started_at"],
                                 status=run["status"])
                answers_now = customer_answers.get((store.id, run["customer_id"]))
                key = (store.id, run["customer_id"])
                result = advance(state, spec, build_facts(
                    store, customer, order, None, occurrences, answers_now,
                    stats=facts.stats.get(key), prediction=facts.predictions.get(key)), now)
                renderer = renderer_of.get(store.id, self.renderer)
                outgoing = []
                for send in result.sends:
                    promoted = empty_extras(triggers.get(run["id"]))
                    if send.promotion is not None and (customer or {}).get("email"):
                        # a coupon or recommendations: issued in their own transaction (no address: no mail)
                        async with self.engine.begin() as promo_conn:
                            promoted.update(await promotion_extras(promo_conn, store.id, run, send, now))
                    library = message_extra(store, snapshot.base_url, content[store.id], run, order,
                                            facts.stats.get(key), send.template)
                    outgoing.append(prepare(
                        renderer, store, snapshot, run, send, customer, order, now, locales, tracking[store.id],
                        planner, extra=_joined(promoted, library),
                        variant=_variant(tests.get((store.id, run["flow_id"], send.step)), send, run["id"]),
                        reach=reach[store.id], sms_consent=key in sms_yes))
            except Exception:  # this run is broken (a stored flow, its data); the others go on
                log.exception("run %s failed", run["id"])
                writes.moves.append(self._failed(run, now))
                continue
            prepared.append((run, result, renderer, outgoing))
        composed = iter(await self.composer.compose(
            [(renderer, o.job) for _, _, renderer, outgoing in prepared for o in outgoing if o.job is not None]))
        for run, result, _, outgoing in prepared:
            rows: list[dict[str, Any]] = []
            failure: ComposeFailure | None = None
            for o in outgoing:
                made = next(composed) if o.job is not None else None
                if isinstance(made, ComposeFailure):
                    failure = failure or made
                else:
                    rows.append(o.row if made is None else o.filled(made))
            if failure is not None:  # a broken template: the run fails, the others go on
                log.error("run %s failed: %s", run["id"], failure.error)
                writes.moves.append(self._failed(run, now))
                continue
            results[run["id"]] = result
            writes.messages.extend(rows)
            writes.moves.append(self._moved(run, result, now))
            writes.log.extend(
                {"store_id": run["store_id"], "run_id": run["id"], "at": now, "step": e.step, "kind": e.kind,
                 "detail": e.detail} for e in result.log
            )
        async with self.engine.begin() as conn:
            # PostgreSQL: hold the rows so no event moves them under us
            recheck = _RECHECK_LOCKED if skip_locked(conn) else _RECHECK
            mine = {"ids": list(step_of), "worker": self.settings.worker_id}
            still = {r.id for r in await conn.execute(recheck, mine) if step_of.get(r.id) == r.step}
            if len(still) < len(step_of):
                results = {k: v for k, v in results.items() if k in still}
                writes = _Writes([m for m in writes.moves if m["run_id"] in still],
                                 [m for m in writes.messages if m["run_id"] in still],
                                 [e for e in writes.log if e["run_id"] in still])
            if writes.moves:
                await self._write(conn, writes)
        return results

    async def _write(self, conn: AsyncConnection, writes: _Writes) -> None:
        if writes.messages:  # straight to the driver: the rows' other keys are not read
            await execute_many(conn, insert_ignore(outbox, COLUMNS), writes.messages)
            bodies = [m for m in writes.messages if m["data"]]
            bodies += [{"store_id": m["store_id"], "idempotency_key": m["idempotency_key"] + FALLBACK_SUFFIX,
                        "data": m["fallback"]} for m in writes.messages if m.get("fallback")]
            await execute_many(conn, insert_ignore(outbox_bodies, BODY_COLUMNS), bodies)
        await conn.execute(_MOVE, writes.moves)
        if writes.log:
            await conn.execute(run_log.insert(), writes.log)

    def _moved(self, run: Any, result: Advance, now: datetime) -> dict[str, Any]:
        new = result.state
        return {
            "run_id": run["id"], "worker": self.settings.worker_id,
            "step": new.step, "anchor_at": new.anchor_at, "wake_at": new.wake_at, "status": new.status,
            "waiting_for": new.waiting_for.value if new.waiting_for else None, "outcome": new.outcome,
            "claimed_until": None, "claimed_by": None, "updated_at": now,
        }

    def _failed(self, run: Any, now: datetime) -> dict[str, Any]:
        return {
            "run_id": run["id"], "worker": self.settings.worker_id,
            "step": run["step"], "anchor_at": run["anchor_at"], "wake_at": None, "status": "failed",
            "waiting_for": run["waiting_for"], "outcome": FAILED_OUTCOME,
            "claimed_until": None, "claimed_by": None, "updated_at": now,
        }

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
            cached = (store, store.snapshot(self.settings.base_url), time.monotonic() + STORE_CACHE_SECONDS)
            self._stores[store_id] = cached
        return cached[0], cached[1]

    async def _mark_failed(self, run_id: int) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await conn.execute(flow_runs.update().where(
                flow_runs.c.id == run_id, flow_runs.c.claimed_by == self.settings.worker_id,
            ).values(status="failed", outcome=FAILED_OUTCOME, claimed_until=None,
                     claimed_by=None, wake_at=None, updated_at=now))



async def run_loop(step: Any, wake: asyncio.Event, stop: asyncio.Event, idle: float) -> None:
    """Call ``step()`` until told to stop; after a step that found work go again at once (it may have
    made more work due: a run's next step, mail to send), else wait ``idle`` seconds or until woken.
    The wake-up is cleared before each step, so one that comes while a step runs is not lost."""
    while not stop.is_set():
        wake.clear()
        try:
            found = await step()
        except Exception:
            log.exception("worker loop step failed; retrying")
            found = 0
        if found:
            continue
        try:
            await asyncio.wait_for(wake.wait(), timeout=idle)
        except TimeoutError:
            pass


def _variant(test: AbTest | None, send: SendDecision, run_id: int) -> Chosen | None:
    """The A/B test variant of this send, when its step is under a test (of the same message: a flow
    file that moved its steps leaves the test out)."""
    if test is None or test.template != send.template:
        return None
    key = choose(test, run_id)
    return Chosen(test.id, key, test.message_name(key), test.variant(key).subject)


def _joined(promoted: dict[str, object], library: Callable[[str], dict[str, object]]
            ) -> Callable[[str], dict[str, object]]:
    """A send step's template context: its promotions (coupon, recommendations, trigger) and the flow
    library's context for the chosen locale."""

    def extra(locale: str) -> dict[str, object]:
        return {**promoted, **library(locale)}

    return extra

"""The scheduler: claim due runs with a lease, then advance them in batches, one transaction per
batch, in four phases: read the runs and everything they may look at with one query per table
(``flows/batch_read.py``), advance each run (pure), compose its messages, and commit the moves, the
outbox messages and the log with one statement each.  A run that cannot be advanced (say its
template fails to render) is marked failed in the same batch; the others go on.

A claim takes turns between stores with due runs (``db/turns.py``): runs whose next message is
transactional, of every store, before any other (``flows/urgency.py``), and alone: a claim that
finds any takes none of the others, so they are advanced at once rather than after a claim's worth
of other runs (a thousand to wake, say); within each, every store gets its share of the batch, so
one store's hundred thousand due runs take one share of a claim and another store's order
confirmation is advanced with the next batch.

**The wake.**  Most runs that come due only move from one wait to the next (a wait for an event that
times out into ``wait: 3d``): they look at nothing but their flow and what happened to their subject.
So a claim is first advanced on that alone (``BatchReader.read_lean``: two queries for the whole
claim, whatever its size; ``Facts.occurrences_only``), and its moves and log written in one
transaction; only the runs that look at more (an ``if:``, a date field, a send) are read in full and
advanced as above, in chunks, at most ``batch`` of them a claim (the rest are given back, due again
at once), and before the woken runs are written (a new order's confirmation claimed with two
thousand runs to wake does not wait for their write).  While whole claims only wake runs, the claim
grows (doubling up to ``wake_batch``); the first claim with a run to read in full brings it back to
``batch``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.abtests.model import AbTest
from afterorder.abtests.split import choose
from afterorder.clock import Clock
from afterorder.content import Renderer
from afterorder.content.overrides import StoreRenderers
from afterorder.db.dialect import skip_locked
from afterorder.db.key_lists import in_keys, unindexed
from afterorder.db.outage import Outage, database_lost
from afterorder.db.schema import flow_runs, run_log
from afterorder.db.turns import Turns
from afterorder.delivery.outbox import OutboxMessage, write_messages
from afterorder.flows.batch_read import BatchRead, BatchReader, LeanRead
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.composers import ComposeFailure, Composer, InlineComposer
from afterorder.flows.engine import Advance, Facts, FactsNeeded, RunState, SendDecision, advance
from afterorder.flows.extras import empty_extras, promotion_extras
from afterorder.flows.facts import build_facts
from afterorder.flows.followups import message_extra
from afterorder.flows.outgoing import Chosen, Outgoing, prepare
from afterorder.flows.spec import FlowSpec
from afterorder.flows.urgency import FIRST, LATER, priority
from afterorder.keys.sealing import SealError
from afterorder.keys.signers import StoreSigners

log = logging.getLogger(__name__)

FAILED_OUTCOME = "error while advancing; see the worker log"
OUTCOME_LENGTH = 255  # flow_runs.outcome


def _short(reason: str) -> str:
    return reason if len(reason) <= OUTCOME_LENGTH else reason[:OUTCOME_LENGTH - 1] + "…"


@dataclass(frozen=True)
class SchedulerSettings:
    worker_id: str
    base_url: str = "http://127.0.0.1:8000"
    lease: timedelta = timedelta(seconds=60)
    batch: int = 200  # runs claimed at once
    chunk: int = 50  # runs read, rendered and written together
    wake_batch: int = 1000  # runs claimed at once at most while claims only wake runs (see the module's docstring)


# One statement moves every run of a batch (executemany); the guard keeps a run another worker
# took over, or an event ended, out of reach.
_MOVE = flow_runs.update().where(
    flow_runs.c.id == bindparam("run_id"), flow_runs.c.claimed_by == bindparam("worker"),
    flow_runs.c.status == "waiting",
)


# The claim, built once (it runs for every batch): due runs whose lease (if any) ended, in turns
# between stores (db/turns.py), those whose next message is transactional (flows/urgency.py) from
# every store before the rest.  ``ix_flow_runs_store_due`` (status, store_id, priority, wake_at)
# makes each store's due runs of a priority one index range, oldest first.
def _due(urgency: int) -> tuple[ColumnElement[bool], ...]:
    return (flow_runs.c.status == "waiting", flow_runs.c.priority == urgency, flow_runs.c.wake_at <= bindparam("now"),
            or_(flow_runs.c.claimed_until.is_(None), flow_runs.c.claimed_until < bindparam("now")))


_TURNS = Turns(flow_runs, (flow_runs.c.store_id, flow_runs.c.priority, flow_runs.c.wake_at),
               (_due(FIRST), _due(LATER)))
_CLAIM = flow_runs.update().where(in_keys(flow_runs.c.id, "ids")).values(
    claimed_until=bindparam("until"), claimed_by=bindparam("worker"))
_RECHECK = select(flow_runs.c.id, flow_runs.c.step).where(
    in_keys(flow_runs.c.id, "ids"), flow_runs.c.claimed_by == bindparam("worker"),
    unindexed(flow_runs.c.status) == "waiting")
_RECHECK_LOCKED = _RECHECK.with_for_update()
_RELEASE = flow_runs.update().where(in_keys(flow_runs.c.id, "ids"), flow_runs.c.claimed_by == bindparam("worker")
                                    ).values(claimed_until=None, claimed_by=None)


@dataclass
class _Writes:
    moves: list[dict[str, Any]]
    messages: list[OutboxMessage]
    log: list[dict[str, Any]]

@dataclass
class _Woken:
    """A claim's runs advanced on their events alone, not written yet; ``rest``: the others' ids."""

    rest: list[int]
    results: dict[int, Advance]
    step_of: dict[int, int]  # each woken run's step when read (``_commit`` checks it again)
    writes: _Writes


@dataclass(frozen=True)
class _Prepared:
    """A run advanced, with its messages before they are composed."""

    run: Any
    result: Advance
    renderer: Renderer
    outgoing: list[Outgoing]
    spec: FlowSpec  # the run's flow: the priority of its next step comes from it



class Scheduler:
    def __init__(self, engine: AsyncEngine, catalog: FlowCatalog, renderer: Renderer, clock: Clock,
                 settings: SchedulerSettings, renderers: StoreRenderers | None = None,
                 reader: AsyncEngine | None = None, composer: Composer | None = None,
                 stop: asyncio.Event | None = None, signers: StoreSigners | None = None) -> None:
        """``signers`` opens each store's link signing key (without: only plain keys, as tests store them);
        ``renderers`` gives each store its renderer (with the templates it edited in the dashboard);
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
        self.batches = BatchReader(self.reader, catalog, renderers, settings.worker_id, settings.base_url)
        self.signers = signers or StoreSigners(None)
        self._claim_size = settings.batch  # grows while claims only wake runs

    async def claim(self) -> list[int]:
        """Claim up to ``batch`` due runs, in turns between stores, urgent ones first; their ids."""
        now = self.clock.now()
        params = {"until": now + self.settings.lease, "worker": self.settings.worker_id}
        async with self.engine.begin() as conn:

            async def claim(ids: list[int]) -> list[int]:
                await conn.execute(_CLAIM, {"ids": ids, **params})
                return ids

            return await _TURNS.take(conn, self._claim_size, {"now": now}, claim, one_class=True)

    async def run_due(self) -> int:
        """Claim and process one batch of due runs; returns how many were processed.  The runs that only
        wait are advanced first, all at once (``wake``), but written last: the others (a new order's
        confirmation among them) are advanced in chunks before.  Told to stop, the chunk being advanced
        is finished and the runs not yet started are released (due again now)."""
        if self.stop.is_set():
            return 0
        size = self._claim_size
        ids = await self.claim()
        woken = await self._wake(ids)
        rest = woken.rest
        if rest or len(ids) < size:
            self._claim_size = self.settings.batch
        else:
            self._claim_size = min(2 * size, max(self.settings.wake_batch, self.settings.batch))
        if len(rest) > self.settings.batch:  # read in full no more than a claim's worth at once
            await self._release(rest[self.settings.batch:])
            rest = rest[:self.settings.batch]
        chunk = max(self.settings.chunk, 1)
        done = len(rest)
        for start in range(0, len(rest), chunk):
            if self.stop.is_set():
                await self._release(rest[start:])
                done = start
                break
            await self._advance_safely(rest[start:start + chunk])
        return done + await self._write_woken(woken)

    async def wake(self, ids: list[int]) -> list[int]:
        """Advance the claimed runs ``ids`` that need nothing but their flow and their subject's events
        (see the module's docstring) and write them in one transaction; returns the ids of the others
        (to be read in full, in order).  Runs no longer ours or waiting are left out, as ``advance_batch``
        does; if anything goes wrong here every run is left to ``advance_batch`` (which says what)."""
        woken = await self._wake(ids)
        await self._write_woken(woken)
        return woken.rest

    async def _wake(self, ids: list[int]) -> _Woken:
        """``wake``'s read and advance, not written yet (on any error: every run is left to the full read)."""
        woken = _Woken(ids, {}, {}, _Writes([], [], []))
        if not ids:
            return woken
        now = self.clock.now()
        try:
            read = await self.batches.read_lean(ids)
            rest: list[int] = []
            for n, run in enumerate(read.runs):
                if n % 100 == 99:
                    await asyncio.sleep(0)  # CPU work: let the other tasks of the process have a turn
                if not self._wake_one(run, read, now, woken):
                    rest.append(run["id"])
        except Exception as exc:
            if database_lost(exc):
                raise
            log.exception("waking %d runs failed; advancing them in full", len(ids))
            return _Woken(ids, {}, {}, _Writes([], [], []))
        woken.rest = rest
        return woken

    def _wake_one(self, run: Any, read: LeanRead, now: datetime, woken: _Woken) -> bool:
        """``run`` advanced on its events alone into ``woken``; False if it looks at more (``FactsNeeded``),
        sends something, or cannot be advanced so (a flow not read, a broken run: the full read says why)."""
        spec = read.specs[(run["store_id"], run["flow_id"], run["flow_version"])]
        if spec is None:
            return False
        state = RunState(step=run["step"], anchor_at=run["anchor_at"], started_at=run["started_at"],
                         status=run["status"])
        try:
            result = advance(state, spec, Facts.occurrences_only(read.occurrences.of(run)), now)
        except Exception as exc:  # FactsNeeded; or a broken run, which the full read reports and fails
            if not isinstance(exc, FactsNeeded):
                log.debug("run %s: not woken alone: %r", run["id"], exc)
            return False
        if result.sends:
            return False
        woken.results[run["id"]] = result
        woken.step_of[run["id"]] = run["step"]
        woken.writes.moves.append(self._moved(run, result, now, priority(spec, result.state.step)))
        woken.writes.log.extend(self._log_rows(run, result, now))
        return True

    async def _write_woken(self, woken: _Woken) -> int:
        """Commit the woken runs (those still ours, at the same step); how many were written.  On an error
        (not a lost database) they are advanced in full instead."""
        if not woken.results:
            return 0
        try:
            return len(await self._commit(woken.step_of, woken.results, woken.writes))
        except Exception as exc:
            if database_lost(exc):
                raise
            log.exception("writing %d woken runs failed; advancing them in full", len(woken.results))
        ids = list(woken.results)
        chunk = max(self.settings.chunk, 1)
        for start in range(0, len(ids), chunk):
            await self._advance_safely(ids[start:start + chunk])
        return len(ids)

    async def _release(self, ids: list[int]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_RELEASE, {"ids": ids, "worker": self.settings.worker_id})

    async def _advance_safely(self, ids: list[int]) -> None:
        try:
            await self.advance_batch(ids)
            return
        except SealError as exc:  # the configured key cannot open a store's link key: no run's fault
            log.error("%d run(s) wait until their lease ends: a store's link signing key cannot be opened: %s",
                      len(ids), exc)
            return
        except Exception as exc:  # e.g. the database refused the batch: find the run that breaks it
            if database_lost(exc):
                raise  # no run's fault: they come back when the lease ends (run_loop waits it out)
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

        Four phases: read the runs (``flows/batch_read.py``) and their facts in one short transaction; ``_advance`` each
        run (pure) and prepare its messages; ``_compose`` the messages, with no transaction open (the
        lease keeps the runs ours); ``_commit`` the results in a second transaction, which first
        checks again, under lock, which runs are still ours, waiting, at the same step: an event may
        have ended one meanwhile, and then nothing of it is written."""
        now = self.clock.now()
        read = await self.batches.read(ids, now)
        if read is None:
            return {}  # ended by events, or the lease passed to another worker
        writes = _Writes([], [], [])
        prepared = await self._advance(read, now, writes)
        results = await self._compose(prepared, now, writes)
        return await self._commit({r["id"]: r["step"] for r in read.runs}, results, writes)

    async def _advance(self, read: BatchRead, now: datetime, writes: _Writes) -> list[_Prepared]:
        """Each run advanced (pure) with its messages prepared; a run that breaks is written as failed."""
        locales: dict[str, list[str]] = {}
        prepared: list[_Prepared] = []
        for run in read.runs:
            await asyncio.sleep(0)  # CPU work: let the other tasks of the process have a turn
            try:
                prepared.append(await self._advance_one(read, run, now, locales))
            except Exception as exc:  # this run is broken (a stored flow, its data); the others go on
                if database_lost(exc) or isinstance(exc, SealError):
                    raise  # nobody's fault (no database, a wrong key): the whole batch comes back when its lease ends
                log.exception("run %s failed", run["id"])
                reason = f"error while advancing: {type(exc).__name__}: {exc}"
                writes.moves.append(self._failed(run, now, reason))
                writes.log.append(self._failure_log(run, now, reason))
        return prepared

    async def _advance_one(self, read: BatchRead, run: Any, now: datetime, locales: dict[str, list[str]]) -> _Prepared:
        store, snapshot = read.stores[run["store_id"]]
        facts = read.facts
        spec = read.specs[(run["store_id"], run["flow_id"], run["flow_version"])]
        customer = facts.customer(store.id, run["customer_id"])
        order = facts.order(store.id, run["order_id"])
        occurrences = facts.occurrences(store.id, run["subject_key"], run["customer_id"], run["order_id"])
        state = RunState(step=run["step"], anchor_at=run["anchor_at"], started_at=run["started_at"],
                         status=run["status"])
        answers_now = read.customer_answers.get((store.id, run["customer_id"]))
        key = (store.id, run["customer_id"])
        result = advance(state, spec, build_facts(
            store, customer, order, None, occurrences, answers_now,
            stats=facts.stats.get(key), prediction=facts.predictions.get(key)), now)
        renderer = read.renderer_of.get(store.id, self.renderer)
        outgoing = []
        for send in result.sends:
            promoted = empty_extras(read.triggers.get(run["id"]))
            if send.promotion is not None and (customer or {}).get("email"):
                # a coupon or recommendations: issued in their own transaction (no address: no mail)
                async with self.engine.begin() as promo_conn:
                    promoted.update(await promotion_extras(promo_conn, store.id, run, send, now))
            signer = self.signers.of(store)
            library = message_extra(store, signer, snapshot.base_url, read.content[store.id], run, order,
                                    facts.stats.get(key), send.template)
            outgoing.append(prepare(
                renderer, store, snapshot, run, send, customer, order, now, locales, read.tracking[store.id],
                read.planner, extra=_joined(promoted, library),
                variant=_variant(read.tests.get((store.id, run["flow_id"], send.step)), send, run["id"]),
                reach=read.reach[store.id], sms_consent=key in read.sms_yes, signer=signer))
        return _Prepared(run, result, renderer, outgoing, spec)

    async def _compose(self, prepared: list[_Prepared], now: datetime, writes: _Writes) -> dict[int, Advance]:
        """Every prepared message rendered and built (in helper processes when there are some); a run
        whose template breaks is written as failed, the others with their moves, messages and log."""
        results: dict[int, Advance] = {}
        composed = iter(await self.composer.compose(
            [(p.renderer, o.job) for p in prepared for o in p.outgoing if o.job is not None]))
        for p in prepared:
            run, result = p.run, p.result
            messages: list[OutboxMessage] = []
            failed: list[OutboxMessage] = []
            reason = ""
            for o in p.outgoing:
                made = next(composed) if o.job is not None else None
                if isinstance(made, ComposeFailure):
                    log.error("run %s: %s not rendered: %s", run["id"], o.message.template, made.error)
                    reason = reason or f"{o.message.template} not rendered: {made.reason}"
                    failed.append(o.failed(f"not rendered: {made.reason}"))
                else:
                    messages.append(o.message if made is None else o.filled(made))
            if failed:  # a template that cannot render this data: the message and its run fail, the others go on
                writes.messages.extend(failed)
                writes.moves.append(self._failed(run, now, reason))
                writes.log.append(self._failure_log(run, now, reason))
                continue
            results[run["id"]] = result
            writes.messages.extend(messages)
            writes.moves.append(self._moved(run, result, now, priority(p.spec, result.state.step)))
            writes.log.extend(self._log_rows(run, result, now))
        return results

    @staticmethod
    def _log_rows(run: Any, result: Advance, now: datetime) -> list[dict[str, Any]]:
        return [{"store_id": run["store_id"], "run_id": run["id"], "at": now, "step": e.step, "kind": e.kind,
                 "detail": e.detail} for e in result.log]

    async def _commit(self, step_of: dict[int, int], results: dict[int, Advance], writes: _Writes
                      ) -> dict[int, Advance]:
        """Write what is still ours (``step_of``: each run's step when read) in one transaction."""
        async with self.engine.begin() as conn:
            # PostgreSQL: hold the rows so no event moves them under us
            recheck = _RECHECK_LOCKED if skip_locked(conn) else _RECHECK
            mine = {"ids": list(step_of), "worker": self.settings.worker_id}
            still = {r.id for r in await conn.execute(recheck, mine) if step_of.get(r.id) == r.step}
            if len(still) < len(step_of):
                results = {k: v for k, v in results.items() if k in still}
                writes = _Writes([m for m in writes.moves if m["run_id"] in still],
                                 [m for m in writes.messages if m.run_id in still],
                                 [e for e in writes.log if e["run_id"] in still])
            if writes.moves:
                await self._write(conn, writes)
        return results

    async def _write(self, conn: AsyncConnection, writes: _Writes) -> None:
        await write_messages(conn, writes.messages)
        await conn.execute(_MOVE, writes.moves)
        if writes.log:
            await conn.execute(run_log.insert(), writes.log)

    def _moved(self, run: Any, result: Advance, now: datetime, next_priority: int) -> dict[str, Any]:
        new = result.state
        return {
            "priority": next_priority, "run_id": run["id"], "worker": self.settings.worker_id,
            "step": new.step, "anchor_at": new.anchor_at, "wake_at": new.wake_at, "status": new.status,
            "waiting_for": new.waiting_for.value if new.waiting_for else None, "outcome": new.outcome,
            "claimed_until": None, "claimed_by": None, "updated_at": now,
        }

    def _failed(self, run: Any, now: datetime, reason: str = FAILED_OUTCOME) -> dict[str, Any]:
        return {
            "priority": run["priority"], "run_id": run["id"], "worker": self.settings.worker_id,
            "step": run["step"], "anchor_at": run["anchor_at"], "wake_at": None, "status": "failed",
            "waiting_for": run["waiting_for"], "outcome": _short(reason),
            "claimed_until": None, "claimed_by": None, "updated_at": now,
        }

    @staticmethod
    def _failure_log(run: Any, now: datetime, reason: str) -> dict[str, Any]:
        return {"store_id": run["store_id"], "run_id": run["id"], "at": now, "step": run["step"], "kind": "failed",
                "detail": reason}

    async def _mark_failed(self, run_id: int) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await conn.execute(flow_runs.update().where(
                flow_runs.c.id == run_id, flow_runs.c.claimed_by == self.settings.worker_id,
            ).values(status="failed", outcome=FAILED_OUTCOME, claimed_until=None,
                     claimed_by=None, wake_at=None, updated_at=now))



async def run_loop(step: Any, wake: asyncio.Event, stop: asyncio.Event, idle: float,
                   outage: Outage | None = None) -> None:
    """Call ``step()`` until told to stop; after a step that found work go again at once (it may have
    made more work due: a run's next step, mail to send), else wait ``idle`` seconds or until woken.
    The wake-up is cleared before each step, so one that comes while a step runs is not lost.  A lost
    database is ``outage``'s to report (one line, not a traceback a step) and to wait out with backoff;
    what the step held comes back when its lease ends."""
    outage = outage or Outage(log)
    while not stop.is_set():
        wake.clear()
        try:
            found = await step()
        except Exception as exc:
            if not database_lost(exc):
                log.exception("worker loop step failed; retrying")
                found = 0
            else:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=outage.lost(exc))
                except TimeoutError:
                    pass
                continue
        else:
            outage.back()
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

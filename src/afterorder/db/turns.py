"""Claims that take turns between stores: each claim of due work (the scheduler's runs, delivery's
messages) gives every store with due work its share of the batch, so one store's hundred thousand
due rows cannot fill claim after claim while another store's one row waits.

A claim goes class by class (transactional work before the rest: the first class is drained, from
every store, before the second is looked at); within a class, by rounds:

1. the stores with due work of the class, one index probe each (``EXISTS``): ``K`` stores;
2. each of them gives its oldest ``ceil(room / K)`` due rows, in one statement (the per-store pick
   runs once per store, an index range scan on ``(status, store_id, class, due)``), and they are
   claimed at once (so the next round, and other workers, do not see them again);
3. if there is room left and some stores gave all their share, the next round shares the room out
   among those (at most ``ROUNDS`` rounds; what is left waits for the next claim, a moment later).

The rows of a round come out in turns (every store's oldest, then every store's second, ...), and
that is the order they are sent in.  With one store (the common case) a claim is the same two index
scans as before plus one probe; with hundreds of stores it is one probe and one short range scan a
store.  On PostgreSQL the per-store pick is a ``LATERAL`` subquery with ``FOR UPDATE SKIP LOCKED``
(many workers share the queue; a row locked by one is skipped by the others); on SQLite (one writer)
it is a correlated ``IN (… LIMIT)`` subquery.

Query plans (EXPLAIN, 100,000 marketing messages due in one store, one in a second; 2026-12-07):
* SQLite: ``SCAN stores USING COVERING INDEX`` (the store list: one row a store), then per store
  ``CORRELATED LIST SUBQUERY`` → ``SEARCH x USING COVERING INDEX ix_outbox_store_due (status=? AND
  store_id=? AND category=? AND next_attempt_at<?)`` with its ``LIMIT``, ``SEARCH outbox USING
  INTEGER PRIMARY KEY``, and a temp B-tree to order the picked rows (at most a batch): no scan of
  the due rows, whatever their number; the ``EXISTS`` probe is one ``SEARCH`` a store and class.
  On PostgreSQL the probe is a ``LATERAL (… ORDER BY <the index's columns> LIMIT 1)`` a class,
  planned as ``Limit -> Index Only Scan using ix_outbox_store_due``: as ``EXISTS`` it was planned
  with a hashed ``Seq Scan on outbox`` as the alternative (taken with many stores), and without
  the ``ORDER BY`` as ``Limit -> Seq Scan`` (the planner expects any store's row at once: it is,
  for the big store; for a store with none it reads the whole table).
* PostgreSQL: ``Nested Loop`` over the stores (``id = ANY($1)``) with, per store, ``Limit ->
  LockRows -> Index Scan using ix_outbox_store_due`` (all four columns as the index condition),
  then a ``Sort`` of the picked rows.  With the old ``ix_outbox_due (status, next_attempt_at)``
  still there, PostgreSQL read each store's pick off that one, filtering on the store — for the
  small store, past the big one's 100,000 rows — so migration 0023 drops the indexes across stores.
Timed on the 2-core box at a load average of 12–15 (other work running; not a benchmark), SQLite:
taking 500 among 100,000 due (probes, picks and the claiming ``UPDATE``) 40–100 ms; the whole
delivery claim (with the compliance checks, bodies and started attempts of the 500, which this
module does not touch) 0.3 s, and 0.5 s / 0.8 s (SQLite / PostgreSQL) for a first, cold claim.
(``tests/integration/test_fair_claims.py`` checks that the plans use the index on both databases.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, FromClause, Select, Table, bindparam, exists, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.util import ClauseAdapter

from afterorder.db.dialect import skip_locked
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import stores

ROUNDS = 3  # rounds of a claim at most (each shares out what the stores before left)
T = TypeVar("T")


@dataclass(frozen=True)
class _Pick:
    """The statements of one class of due work (say, transactional messages)."""

    pick: Select[tuple[int, int]]  # (id, store_id): each listed store's oldest ``share`` due rows
    pick_locked: Select[tuple[int, int]]  # the same, skipping rows other workers hold (PostgreSQL)


class Turns:
    """Due rows of ``table`` picked store by store (see the module's docstring).

    ``classes``: the conditions of each class of due rows, most urgent first (bound parameters as the
    caller gives them, e.g. ``now``); each must be an index range on ``(status, store_id, …)``
    (no ``OR``, no ``!=``: the index gives each store's oldest without sorting).  ``order``: the
    columns of that index after ``status``, the last one the age (``store_id, category, due``).
    No other index may lead with ``(status, due)``: PostgreSQL took one such for a store's pick
    (filtering on the store), and a small store's pick then read past a big store's due rows."""

    def __init__(self, table: Table, order: Sequence[ColumnElement[Any]],
                 classes: Sequence[Sequence[ColumnElement[bool]]]) -> None:
        mine = [(table.c.store_id == stores.c.id, *only) for only in classes]
        # every store, with a flag per class: has it due rows of the class?  (one index probe each)
        self._with_due = select(stores.c.id, *(exists().where(*m).label(f"due_{n}") for n, m in enumerate(mine))
                                ).order_by(stores.c.id)
        # PostgreSQL: the same as LATERAL probes (LIMIT 1): as EXISTS it may plan a hashed seq scan instead
        # (ordered as the index is, or it may take a seq scan that stops at once for a big store's row
        # and reads the whole table for a store with none)
        probes = [select(literal(1).label("due")).where(*m).order_by(*order).limit(1).lateral(f"due_{n}")
                  for n, m in enumerate(mine)]
        joined: FromClause = stores
        for probe in probes:
            joined = joined.outerjoin(probe, true())
        self._with_due_locked = select(stores.c.id, *(probe.c.due.is_not(None) for probe in probes)
                                       ).select_from(joined).order_by(stores.c.id)
        self._picks = [self._pick(table, m, order) for m in mine]

    @staticmethod
    def _pick(table: Table, mine: tuple[ColumnElement[bool], ...], order: Sequence[ColumnElement[Any]]) -> _Pick:
        oldest = order[-1]
        # SQLite: for each listed store, its oldest due ids (a correlated subquery on an alias of the table)
        x = table.alias("x")
        inner = (select(x.c.id).where(*(ClauseAdapter(x).traverse(c) for c in mine))
                 .order_by(*(ClauseAdapter(x).traverse(c) for c in order)).limit(bindparam("share")))
        pick = (select(table.c.id, table.c.store_id).select_from(stores)
                .join(table, table.c.id.in_(inner.scalar_subquery()))
                .where(in_keys(stores.c.id, "stores")).order_by(oldest))
        # PostgreSQL: the same as a LATERAL subquery, locking what it takes and skipping what others hold
        lateral = (select(table.c.id, table.c.store_id, oldest.label("oldest")).where(*mine).order_by(*order)
                   .limit(bindparam("share")).with_for_update(skip_locked=True).lateral("due"))
        pick_locked = (select(lateral.c.id, lateral.c.store_id).select_from(stores).join(lateral, true())
                       .where(in_keys(stores.c.id, "stores")).order_by(lateral.c.oldest))
        return _Pick(pick, pick_locked)

    async def take(self, conn: AsyncConnection, batch: int, params: dict[str, Any],
                   claim: Callable[[list[int]], Awaitable[Sequence[T]]], *, one_class: bool = False) -> list[T]:
        """Claim up to ``batch`` due rows, class by class, store by store, with ``claim(ids)`` (which
        marks them taken and returns what the caller keeps of them, in the order of ``ids``).
        ``one_class``: rows of the first class that has any, none of the next (the scheduler's urgent
        runs are claimed alone, so they are not held up by a large claim of the others)."""
        taken: list[T] = []
        locked = skip_locked(conn)
        flags = (await conn.execute(self._with_due_locked if locked else self._with_due, params)).all()
        for n, statements in enumerate(self._picks):
            if one_class and taken:
                break
            due_stores = [row[0] for row in flags if row[n + 1]]
            for _ in range(ROUNDS):
                room = batch - len(taken)
                if not due_stores or room <= 0:
                    break
                share = -(-room // len(due_stores))
                picked = (await conn.execute(statements.pick_locked if locked else statements.pick,
                                             {**params, "stores": due_stores, "share": share})).all()
                ids = in_turns([(row[0], row[1]) for row in picked])[:room]
                if not ids:
                    break
                taken += await claim(ids)
                counts: dict[int, int] = {}
                for row in picked:
                    counts[row[1]] = counts.get(row[1], 0) + 1
                due_stores = [s for s in due_stores if counts.get(s, 0) >= share]  # those that may have more
        return taken


def in_turns(picked: Sequence[tuple[int, int]]) -> list[int]:
    """The ids of ``picked`` (id, store), each store's in the order given, interleaved: every store's
    first, then every store's second, and so on (stores in the order of their first row)."""
    rank: dict[int, int] = {}
    ranked: list[tuple[int, int, int]] = []
    for position, (id_, store) in enumerate(picked):
        n = rank.get(store, 0)
        rank[store] = n + 1
        ranked.append((n, position, id_))
    return [id_ for _, _, id_ in sorted(ranked)]

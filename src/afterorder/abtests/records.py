"""A/B tests in the database: start one on a send step, read the running ones, stop one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.abtests.model import (
    CONFIDENCES,
    METRICS,
    MIN_SAMPLE_FLOOR,
    AbTest,
    AbTestError,
    Metric,
    Variant,
    check_variants,
)
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import ab_tests

LIVE = ("running", "decided")  # tests whose variants are still being sent


def _row_to_test(row: Any) -> AbTest:
    metric: Metric = row.metric
    return AbTest(id=row.id, store_id=row.store_id, name=row.name, flow_id=row.flow_id, step=row.step,
                  template=row.template, variants=tuple(Variant.from_json(v) for v in row.variants),
                  metric=metric, confidence=row.confidence, min_sample=row.min_sample, status=row.status,
                  winner=row.winner)


async def start_test(conn: AsyncConnection, store_id: int, *, name: str, flow_id: str, step: int, template: str,
                     variants: tuple[Variant, ...], metric: str, confidence: float, min_sample: int, user: str,
                     now: datetime) -> int:
    """Start a test on a send step; AbTestError (naming the field) when it cannot run."""
    check_variants(variants)
    if metric not in METRICS:
        raise AbTestError(f"metric: one of {', '.join(METRICS)}")
    if confidence not in CONFIDENCES:
        raise AbTestError(f"confidence: one of {', '.join(f'{c:.0%}' for c in CONFIDENCES)}")
    if min_sample < MIN_SAMPLE_FLOOR:
        raise AbTestError(f"min_sample: at least {MIN_SAMPLE_FLOOR} delivered messages per variant")
    name = name.strip() or f"{flow_id} step {step + 1}"
    if len(name) > 128:
        raise AbTestError("name: at most 128 characters")
    busy = await conn.execute(select(ab_tests.c.id).where(
        ab_tests.c.store_id == store_id, ab_tests.c.flow_id == flow_id, ab_tests.c.step == step,
        ab_tests.c.status.in_(LIVE)))
    if busy.first() is not None:
        raise AbTestError("step: this step already has a test; stop it before starting another")
    inserted = await conn.execute(ab_tests.insert().values(
        store_id=store_id, name=name, flow_id=flow_id, step=step, template=template,
        variants=[v.as_json() for v in variants], metric=metric, confidence=confidence, min_sample=min_sample,
        status="running", winner=None, decided_at=None, created_by=user, created_at=now, updated_at=now))
    new_id = inserted.inserted_primary_key
    assert new_id is not None
    return int(new_id[0])


async def tests_of(conn: AsyncConnection, store_id: int) -> list[tuple[AbTest, datetime, datetime | None]]:
    """Every test of a store, newest first, with when it started and when it was decided."""
    rows = await conn.execute(select(ab_tests).where(ab_tests.c.store_id == store_id)
                              .order_by(ab_tests.c.id.desc()))
    return [(_row_to_test(r), r.created_at, r.decided_at) for r in rows]


async def get_test(conn: AsyncConnection, store_id: int, test_id: int) -> AbTest | None:
    row = (await conn.execute(select(ab_tests).where(ab_tests.c.store_id == store_id,
                                                     ab_tests.c.id == test_id))).first()
    return _row_to_test(row) if row is not None else None


_LIVE = select(ab_tests).where(in_keys(ab_tests.c.store_id, "ids"),
                               ab_tests.c.status.in_(LIVE))  # built once: every batch of runs asks


async def live_tests(conn: AsyncConnection, store_ids: Iterable[int]) -> dict[tuple[int, str, int], AbTest]:
    """The tests whose variants are being sent, by (store, flow, step)."""
    wanted = sorted(set(store_ids))
    if not wanted:
        return {}
    rows = await conn.execute(_LIVE, {"ids": wanted})
    return {(r.store_id, r.flow_id, r.step): _row_to_test(r) for r in rows}


async def stop_test(conn: AsyncConnection, store_id: int, test_id: int, now: datetime) -> bool:
    """Stop a test: from now on the step sends the message as written (a winner stays on record)."""
    done = await conn.execute(ab_tests.update().where(
        ab_tests.c.store_id == store_id, ab_tests.c.id == test_id, ab_tests.c.status.in_(LIVE),
    ).values(status="stopped", updated_at=now))
    return bool(done.rowcount)


async def record_winner(conn: AsyncConnection, test_id: int, winner: str, now: datetime) -> bool:
    """Mark a running test decided (once: a second worker deciding the same finds it done)."""
    done = await conn.execute(ab_tests.update().where(ab_tests.c.id == test_id, ab_tests.c.status == "running")
                              .values(status="decided", winner=winner, decided_at=now, updated_at=now))
    return bool(done.rowcount)

"""What each variant of a test did, the verdict, and the job that records the automatic winner.

Counts follow the messages page (``analytics.metrics``): a variant's messages are the outbox rows
sent under the test as that variant; delivered = sent − bounced; opens are human opens; orders are
the orders attributed to those messages.  The metric's rate is per delivered message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.abtests.model import AbTest
from afterorder.abtests.records import get_test, record_winner
from afterorder.abtests.significance import Arm, Comparison, Verdict, decide, z_test
from afterorder.analytics.metrics import MessageMetrics, count_outcomes, outcomes
from afterorder.db.schema import ab_tests, outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariantResult:
    key: str
    weight: int
    metrics: MessageMetrics
    successes: int  # of the test's metric
    against_a: Comparison | None  # None for A itself

    @property
    def rate(self) -> float | None:
        delivered = self.metrics.delivered
        return None if delivered == 0 else self.successes * 100 / delivered


@dataclass(frozen=True)
class AbTestResults:
    test: AbTest
    variants: list[VariantResult]
    verdict: Verdict


def _successes(metric: str, m: MessageMetrics) -> int:
    return {"open": m.opened, "click": m.clicked, "order": m.orders}[metric]


async def results_of(conn: AsyncConnection, test: AbTest, started: datetime) -> AbTestResults:
    sent = and_(outbox.c.store_id == test.store_id, outbox.c.ab_test_id == test.id, outbox.c.status == "sent")
    by_variant = {v.key: MessageMetrics(test.flow_id, test.step, test.message_name(v.key)) for v in test.variants}
    row_of: dict[int, MessageMetrics] = {}
    for r in await conn.execute(select(outbox.c.id, outbox.c.variant).where(sent)):
        if r.variant in by_variant:
            row_of[r.id] = by_variant[r.variant]
            by_variant[r.variant].sent += 1
    count_outcomes(row_of, await outcomes(conn, test.store_id, sent, started))
    arms = [Arm(k, m.delivered, _successes(test.metric, m)) for k, m in by_variant.items()]
    control = arms[0]
    variants = [VariantResult(v.key, v.weight, by_variant[v.key], arm.successes,
                              None if arm is control else z_test(control, arm))
                for v, arm in zip(test.variants, arms, strict=True)]
    if test.status == "stopped":
        won = f" ({test.winner} had won)" if test.winner else ""
        verdict = Verdict(test.winner, f"stopped{won}; the step sends the message as written")
    elif test.winner is not None:
        verdict = Verdict(test.winner, f"{test.winner} won; every message of this step now uses it")
    else:
        verdict = decide(arms, test.confidence, test.min_sample)
    return AbTestResults(test, variants, verdict)


async def settle(engine: AsyncEngine, now: datetime) -> list[tuple[int, str]]:
    """Record the winner of every running test that has one now; returns (test id, winner) decided."""
    decided: list[tuple[int, str]] = []
    async with engine.connect() as conn:
        running = [(r.id, r.store_id, r.created_at) for r in await conn.execute(
            select(ab_tests.c.id, ab_tests.c.store_id, ab_tests.c.created_at).where(ab_tests.c.status == "running"))]
    for test_id, store_id, started in running:
        async with engine.begin() as conn:
            test = await get_test(conn, store_id, test_id)
            if test is None or test.status != "running":
                continue
            verdict = (await results_of(conn, test, started)).verdict
            if verdict.winner is not None and await record_winner(conn, test_id, verdict.winner, now):
                log.info("A/B test %s: %s", test_id, verdict.reason)
                decided.append((test_id, verdict.winner))
    return decided

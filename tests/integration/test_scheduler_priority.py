"""Due runs whose next message is transactional are advanced first, whichever store they belong to
(issue 18: a store's campaign of many runs must not hold up another store's order confirmation)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import flow_runs
from afterorder.domain import Event
from afterorder.flows.urgency import FIRST, LATER
from tests.conftest import T0
from tests.factories import US_STORE, add_store, order_event, running

CAMPAIGN = 1000  # runs of one store's win-back, due an hour ago: five claims' worth


async def test_an_order_confirmation_run_is_claimed_before_another_stores_earlier_campaign(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        big, _ = await add_store(runtime)
        small, _ = await add_store(runtime, US_STORE)
        due = T0 - timedelta(hours=1)
        async with runtime.engine.begin() as conn:
            await conn.execute(insert(flow_runs), [
                {"store_id": big.id, "flow_id": "win-back", "flow_version": "1", "subject_key": f"customer:{n}",
                 "customer_id": None, "order_id": None, "trigger_event_id": n, "status": "waiting", "step": 0,
                 "anchor_at": due, "wake_at": due, "started_at": due, "updated_at": due} for n in range(CAMPAIGN)])
        await runtime.intake.ingest(small, [Event.model_validate(order_event("order.placed", "2002", T0, locale="en"))])
        async with runtime.engine.connect() as conn:
            [(confirmation, urgency)] = (await conn.execute(
                select(flow_runs.c.id, flow_runs.c.priority).where(flow_runs.c.store_id == small.id))).all()
            campaign_urgency = set((await conn.execute(
                select(flow_runs.c.priority).where(flow_runs.c.store_id == big.id))).scalars())
        assert urgency == FIRST and campaign_urgency == {LATER}

        first = await runtime.scheduler.claim()
        assert first == [confirmation], "the confirmation is claimed alone, not behind a claim's worth of campaign"
        assert len(await runtime.scheduler.claim()) == runtime.scheduler.settings.batch, "then the campaign"

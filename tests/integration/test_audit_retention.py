"""The audit log is kept ``[audit] retention_days`` (400 by default): the runtime's periodic
maintenance deletes older entries of every store, keeps the younger ones (an erasure's included,
still naming the internal id only), and a store's owner sees exactly those through the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from afterorder.audit.log import Action, Actor, ActorKind, Change, Origin, Source, record
from afterorder.audit.retention import prune_audit
from afterorder.clock import FrozenClock
from afterorder.db.schema import audit_log
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import JP_STORE, US_STORE, add_store, running

NOW = datetime.now(UTC).replace(microsecond=0)
OWNER = Source(Actor(ActorKind.USER, "owner", 1), Origin("198.51.100.7", "test browser"))
AGES = (1000, 401, 400.5, 399, 30, 1)  # days before now, one entry each


async def entries_by_age(runtime: Runtime, store_id: int) -> None:
    async with runtime.engine.begin() as conn:
        for days in AGES:
            await record(conn, store_id, OWNER, Change(Action.SETTING_CHANGED, f"aged-{days}", {"days": days}),
                         NOW - timedelta(days=days))
        await record(conn, store_id, OWNER, Change(Action.CUSTOMER_ERASED, "#7", {"customer": 7}),
                     NOW - timedelta(days=10))


async def listed(runtime: Runtime, api_key: str) -> list[str]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t",
                                 headers={"Authorization": f"Bearer {api_key}"}) as http:
        answer = await http.get("/api/v1/audit", params={"limit": 500})
    assert answer.status_code == 200, answer.text
    return [e["target"] for e in answer.json()["entries"]]


async def count(runtime: Runtime) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(audit_log))).scalar_one())


async def test_the_periodic_maintenance_prunes_entries_older_than_the_retention(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW), daily_first_seconds=0.1) as runtime:
        kumo, kumo_key = await add_store(runtime, JP_STORE)
        harbor, harbor_key = await add_store(runtime, US_STORE)
        for store in (kumo, harbor):
            await entries_by_age(runtime, store.id)
        kept = ["#7", "aged-1", "aged-30", "aged-399"]  # the latest recorded first
        assert await listed(runtime, kumo_key) == [*kept, "aged-400.5", "aged-401", "aged-1000"]

        await runtime.start_workers()
        for _ in range(200):  # the first daily look comes 0.1 s after the start
            if await count(runtime) == 2 * len(kept):
                break
            await asyncio.sleep(0.05)
        assert await listed(runtime, kumo_key) == kept, "older than 400 days: gone; younger: kept"
        assert await listed(runtime, harbor_key) == kept, "every store's"
        async with runtime.engine.connect() as conn:
            erased = (await conn.execute(select(audit_log.c.details).where(
                audit_log.c.store_id == kumo.id, audit_log.c.action == "customer.erased"))).scalar_one()
        assert erased == {"customer": 7}, "an erasure stays, naming the internal id only"


async def test_a_shorter_retention_prunes_more_and_a_second_pass_nothing(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(NOW), audit_retention_days=20) as runtime:
        kumo, kumo_key = await add_store(runtime, JP_STORE)
        await entries_by_age(runtime, kumo.id)
        assert await prune_audit(runtime.engine, NOW, runtime.settings.audit_retention_days) == 5
        assert await listed(runtime, kumo_key) == ["#7", "aged-1"]
        assert await prune_audit(runtime.engine, NOW, runtime.settings.audit_retention_days) == 0

"""PostgreSQL: a table with rows that was never analyzed gets statistics from the running workers,
so the planner stops guessing; SQLite has nothing to do."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from afterorder.clock import FrozenClock
from afterorder.db.schema import customers
from afterorder.db.statistics import analyze_new_tables
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import add_store, running


async def analyzed(runtime: Runtime, table: str) -> bool:
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(text("SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables "
                                       "WHERE relname = :t"), {"t": table})).one()
    return row[0] is not None or row[1] is not None


async def test_tables_never_analyzed_are_analyzed(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await conn.execute(customers.insert(), [
                {"store_id": store.id, "external_id": f"c{i}", "email": f"c{i}@example.com", "created_at": T0,
                 "updated_at": T0} for i in range(600)])
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_stat_force_next_flush()"))
        if runtime.engine.dialect.name != "postgresql":
            assert await analyze_new_tables(runtime.engine) == []
            return
        assert not await analyzed(runtime, "customers")
        for _ in range(50):  # the statistics collector reports the new rows within a moment
            found = await analyze_new_tables(runtime.engine)
            if found:
                break
            await asyncio.sleep(0.1)
        assert "customers" in found and "stores" not in found  # one row: read whole whatever the plan
        assert await analyzed(runtime, "customers")
        assert "customers" not in await analyze_new_tables(runtime.engine)  # autovacuum's from here on

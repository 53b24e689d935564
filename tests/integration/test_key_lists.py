"""``in_keys``: a list bound as one parameter finds what ``IN`` finds, at every length, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from afterorder.db.database import open_engine
from afterorder.db.key_lists import in_keys
from afterorder.db.migrate import upgrade
from afterorder.db.schema import customers
from afterorder.db.stores import create_store
from afterorder.flows.batch_read import _CLAIMED
from afterorder.flows.facts import _CUSTOMERS
from tests.conftest import T0
from tests.factories import JP_STORE

BY_EMAIL = select(customers.c.id).where(in_keys(customers.c.store_id, "stores"),
                                        in_keys(customers.c.email, "emails")).order_by(customers.c.id)


@pytest.mark.parametrize("count", [0, 1, 3, 60])
async def test_a_list_of_keys_finds_the_rows_in_it(database_url: str, count: int) -> None:
    engine = open_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            store, _ = await create_store(conn, T0, **JP_STORE)
            store_id = store.id
            ids = [(await conn.execute(customers.insert().values(
                store_id=store_id, external_id=f"c{i}", email=f"c{i}@example.com", created_at=T0,
                updated_at=T0).returning(customers.c.id))).scalar_one() for i in range(80)]
            wanted = ids[::2][:count]
            found = (await conn.execute(_CUSTOMERS, {"stores": [store_id], "ids": wanted})).mappings().all()
            assert sorted(r["id"] for r in found) == sorted(wanted)
            emails = {f"c{i}@example.com" for i in range(count)} | {"nobody@example.com"}
            by_email = (await conn.execute(BY_EMAIL, {"stores": (store_id,), "emails": emails})).scalars().all()
            assert by_email == ids[:count]
            assert (await conn.execute(_CUSTOMERS, {"stores": [store_id + 1], "ids": wanted})).all() == []
    finally:
        await engine.dispose()


def test_postgresql_gets_one_statement_text_for_every_length() -> None:
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

    sql = str(_CLAIMED.compile(dialect=PGDialect_asyncpg()))
    assert "flow_runs.id = ANY($1::BIGINT[])" in sql and "POSTCOMPILE" not in sql


async def test_sqlite_reads_claimed_runs_by_primary_key(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            sql = str(_CLAIMED.params(ids=[1, 2], worker="w").compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)).all()
        assert any("INTEGER PRIMARY KEY" in row[-1] for row in plan), plan
    finally:
        await engine.dispose()

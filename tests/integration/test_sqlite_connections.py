"""SQLite connections: statements through the one-hop driver behave as SQLAlchemy's own aiosqlite
dialect does, and the reader engine reads committed data while a write transaction is open,
without waiting for it, and refuses to write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from afterorder.db.database import open_engine, open_reader
from afterorder.db.sqlite_driver import DRIVER

meta = MetaData()
items = Table("items", meta, Column("id", Integer, primary_key=True), Column("name", String, unique=True))


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'one.db'}"


async def test_statements_through_the_one_hop_driver(sqlite_file: str) -> None:
    engine = open_engine(sqlite_file)
    assert engine.dialect.driver == DRIVER
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
            first = await conn.execute(insert(items).values(name="tea"))
            assert first.inserted_primary_key == (1,)
            many = await conn.execute(insert(items), [{"name": f"cup {i}"} for i in range(5)])
            assert many.rowcount == 5
            returned = (await conn.execute(insert(items).values(name="pot").returning(items.c.id))).scalar_one()
            assert returned == 7
            cups = items.update().where(items.c.name.like("cup %")).values(name=items.c.name + "!")
            updated = await conn.execute(cups)
            assert updated.rowcount == 5
        async with engine.connect() as conn:
            rows = (await conn.execute(select(items.c.name).order_by(items.c.id))).scalars().all()
            assert rows == ["tea", "cup 0!", "cup 1!", "cup 2!", "cup 3!", "cup 4!", "pot"]
            streamed = await conn.stream(select(items.c.id).order_by(items.c.id))
            assert [row.id async for row in streamed] == [1, 2, 3, 4, 5, 6, 7]
            assert (await conn.execute(select(items.c.id).where(items.c.name == "none"))).first() is None
        with pytest.raises(IntegrityError, match="UNIQUE"):
            async with engine.begin() as conn:
                await conn.execute(insert(items).values(name="tea"))
        with pytest.raises(OperationalError, match="no such table"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM nowhere"))
        async with engine.connect() as conn:  # the failed statements left the connection usable
            assert (await conn.execute(select(items.c.id).where(items.c.name == "tea"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_the_reader_does_not_wait_for_an_open_write(sqlite_file: str) -> None:
    engine = open_engine(sqlite_file)
    reader = open_reader(engine)
    assert reader is not engine
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
            await conn.execute(insert(items).values(name="tea"))
        async with engine.begin() as writing:
            await writing.execute(insert(items).values(name="not yet"))
            async with reader.connect() as conn:  # the writer holds SQLite's write lock meanwhile
                names = await asyncio.wait_for(conn.execute(select(items.c.name)), timeout=5)
                assert names.scalars().all() == ["tea"]
        async with reader.connect() as conn:
            assert (await conn.execute(select(items.c.name).order_by(items.c.id))).scalars().all() == ["tea", "not yet"]
            with pytest.raises(OperationalError, match="readonly"):
                await conn.execute(insert(items).values(name="from the reader"))
    finally:
        await reader.dispose()
        await engine.dispose()


async def test_postgresql_reads_on_the_engine_itself() -> None:
    postgres = open_engine("postgresql://postgres@127.0.0.1:5432/test")  # its pool has many connections
    try:
        assert open_reader(postgres) is postgres
    finally:
        await postgres.dispose()

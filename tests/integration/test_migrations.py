"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from afterorder.db.database import open_engine
from afterorder.db.migrate import current, head_revision, upgrade
from afterorder.db.schema import metadata


async def test_migrated_database_matches_the_declared_schema(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # a second run is a no-op
        assert await current(engine) == head_revision()

        def diff(connection: Connection) -> list[object]:
            return list(compare_metadata(MigrationContext.configure(connection), metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_mail_bodies_are_compressed_with_lz4_on_postgresql(database_url: str) -> None:
    """pglz cost the server about three times lz4's CPU for every queued message."""
    engine = open_engine(database_url)
    try:
        await upgrade(engine)
        if engine.dialect.name != "postgresql":
            return
        async with engine.connect() as conn:
            method = (await conn.execute(text(
                "SELECT attcompression::text FROM pg_attribute "
                "WHERE attrelid = 'outbox_bodies'::regclass AND attname = 'data'"))).scalar_one()
        assert method == "l"
    finally:
        await engine.dispose()

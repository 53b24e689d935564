"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

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

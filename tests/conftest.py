"""Shared fixtures: a real database (a SQLite file, or PostgreSQL), stores, a real SMTP server.

Storage tests take the ``database_url`` fixture and run once on SQLite and once on PostgreSQL.
PostgreSQL comes from AFTERORDER_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
Outside CI its tests skip with a message when the server cannot be reached; with CI=true they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url

from afterorder.dev.smtp_server import DevSmtpServer, start_dev_smtp

PG_URL = os.environ.get("AFTERORDER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


async def _pg_admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(PG_URL)
    conn = await asyncpg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                                 password=url.password, database=url.database, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    name = f"afterorder_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError, Exception) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required on CI but {PG_URL} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({exc}); set AFTERORDER_TEST_POSTGRES_URL to run these")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from afterorder.db.database import open_engine

    engine = open_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """A fresh, empty database: a SQLite file, or a clean PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/afterorder.db"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_reset_postgres(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/afterorder.db"


@pytest.fixture
async def smtp_server() -> AsyncIterator[DevSmtpServer]:
    server = await start_dev_smtp()
    yield server
    await server.close()

"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


def skip_locked(conn: AsyncConnection) -> bool:
    """PostgreSQL claims rows with FOR UPDATE SKIP LOCKED; SQLite has one writer at a time."""
    return conn.dialect.name == "postgresql"

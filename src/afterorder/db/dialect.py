"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


def skip_locked(conn: AsyncConnection) -> bool:
    """PostgreSQL claims rows with FOR UPDATE SKIP LOCKED; SQLite has one writer at a time."""
    return conn.dialect.name == "postgresql"


def upsert(conn: AsyncConnection, table: Table, keys: Sequence[str], values: Mapping[str, Any]) -> Insert:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` the other values: one statement, so a row two
    writers make at the same moment is made once."""
    if conn.dialect.name == "postgresql":
        on_pg = postgresql.insert(table).values(**values)
        return on_pg.on_conflict_do_update(index_elements=list(keys),
                                           set_={k: on_pg.excluded[k] for k in values if k not in keys})
    on_sqlite = sqlite.insert(table).values(**values)
    return on_sqlite.on_conflict_do_update(index_elements=list(keys),
                                           set_={k: on_sqlite.excluded[k] for k in values if k not in keys})

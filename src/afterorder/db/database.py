"""Opening the database: one URL, SQLite by default, PostgreSQL for scale-out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from afterorder.db.sqlite_driver import DRIVER as SQLITE_DRIVER

DEFAULT_URL = "sqlite:///./afterorder-data/afterorder.db"


class DatabaseUrlError(ValueError):
    pass


def async_url(url: str) -> str:
    """Accept the URLs an operator would write and pick the async driver for each."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseUrlError(f"cannot read database URL {url!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername=f"sqlite+{SQLITE_DRIVER}").render_as_string(hide_password=False))
    if backend in ("postgresql", "postgres"):
        return str(parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False))
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://...")


def open_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    full = async_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite has one writer at a time anyway, and queueing in-process
        # (on the pool) is far cheaper than SQLite's busy handler, which sleeps and retries.
        engine = create_async_engine(full, connect_args={"timeout": 60}, pool_size=1, max_overflow=0,
                                     pool_timeout=300)
        _sqlite_pragmas(engine)
        return engine
    return create_async_engine(full, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def open_reader(engine: AsyncEngine, *, pool_size: int = 2) -> AsyncEngine:
    """An engine for read-only work that should not wait for the writer.

    SQLite: ``open_engine`` gives a process one connection, so every statement of every task queues
    behind whatever transaction is open.  In WAL mode readers never block the writer nor wait for it,
    so long reads (the scheduler's facts) get connections of their own here, each reading one
    consistent snapshot per transaction and refusing writes (``query_only``).  PostgreSQL's pool
    already has many connections: the engine itself is returned.  An in-memory SQLite database
    exists only on its one connection, so it is returned too."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return engine
    reader = create_async_engine(url, connect_args={"timeout": 60}, pool_size=pool_size, max_overflow=0,
                                 pool_timeout=300)
    _sqlite_pragmas(reader, begin="BEGIN", query_only=True)
    return reader


def _sqlite_pragmas(engine: AsyncEngine, *, begin: str = "BEGIN IMMEDIATE", query_only: bool = False) -> None:
    """WAL, a busy timeout, foreign keys; writers ``BEGIN IMMEDIATE`` so two of them queue, not fail,
    readers a deferred ``BEGIN`` (one snapshot per transaction) and ``query_only``."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        if query_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


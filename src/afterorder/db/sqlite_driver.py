"""SQLite through aiosqlite with one thread hop per statement.

aiosqlite runs every call on its own thread; SQLAlchemy's adapter makes four calls per statement
(open a cursor, execute, fetch, close), and each is a hand-over to that thread and back through
the event loop.  A statement on the hot path takes tens of microseconds inside SQLite and far more
in those hand-overs.  This dialect does the four steps in one call on aiosqlite's thread, so a
statement costs one hand-over.  Everything else (types, compilation, pooling, transactions) is
SQLAlchemy's aiosqlite dialect unchanged.

``database.async_url`` picks it for every ``sqlite://`` URL (driver name ``aiosqlite_onehop``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

DRIVER = "aiosqlite_onehop"

_Done = tuple[Any, list[Any] | None, int | None, int]  # description, rows, lastrowid, rowcount


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Done:
    """On aiosqlite's thread: the whole statement, rows included."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _one_hop(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection
        try:
            description, rows, lastrowid, rowcount = self.await_(
                connection._execute(_run, connection._conn, operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = description
        self.lastrowid = lastrowid if description is None else -1
        self.rowcount = rowcount
        self._rows.clear()
        if rows:
            self._rows.extend(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._one_hop(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._one_hop(operation, seq_of_parameters, True)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:  # streamed results keep the cursor open between fetches: SQLAlchemy's own
            return super().cursor(server_side=True)
        return OneHopCursor(self)


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        if type(adapted) is AsyncAdapt_aiosqlite_connection:
            return OneHopConnection(self, adapted._connection)
        return adapted  # the sync-fallback adapter (never used by afterorder) stays as it is


class OneHopDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDbapi:
        return OneHopDbapi(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopDialect")

"""Set-based writes for history batches: thousands of rows per statement, each value converted once.

An import batch writes a few thousand customers, orders, lines and events.  Two ways to hand them
to the database, both storing exactly what ``conn.execute(statement, rows)`` would:

- ``write_rows``: the statement run once per row by the driver (``executemany``), with faster
  converters than SQLAlchemy's for UTC times on SQLite, and JSON columns that may come already
  serialised (an event's payload, dumped straight from its model).  What SQLite wants.
- ``insert_returning`` (PostgreSQL): all rows in one ``INSERT ... SELECT FROM unnest(arrays)``
  statement, one array per column, with ``RETURNING``.  The server plans and runs one statement
  instead of one per row (on PostgreSQL a batch of history spent most of its time there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table, TextClause
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import TextualSelect

from afterorder.db.schema.types import UtcDateTime

Converter = Callable[[Any], Any]
_NAME = re.compile(r"(?<![:\w]):(\w+)")


def _aware(value: datetime | None) -> datetime | None:
    """asyncpg takes aware datetimes as they are; a naive one is refused as ``UtcDateTime`` does."""
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use an aware UTC datetime")
    return value


class _SameTime:
    """SQLite's text for a time, kept for the last one converted: a batch's rows share the same
    ``now`` (received, updated), a third of the times an import writes."""

    __slots__ = ("convert", "text", "value")

    def __init__(self, convert: Converter) -> None:
        self.convert = convert
        self.value: Any = None
        self.text: Any = None

    def __call__(self, value: Any) -> Any:
        if value is not self.value or value is None:
            self.text = self.convert(value)
            self.value = value
        return self.text


def _converter(kind: Any, dialect: Dialect) -> Converter | None:
    processor: Converter | None = kind._cached_bind_processor(dialect)
    if isinstance(kind, UtcDateTime):
        # PostgreSQL: asyncpg takes the datetime; SQLite: the type's own one step, once per distinct object
        return _aware if dialect.name != "sqlite" or processor is None else _SameTime(processor)
    return processor


@cache
def _driver_form(statement: TextClause, dialect: Dialect, as_text: frozenset[str]
                 ) -> tuple[str, tuple[str, ...], tuple[Converter | None, ...], bool]:
    """The driver's SQL, the parameter names in order, their converters, and whether the driver
    takes each row as a tuple (else as a dict: SQLite with a parameter used twice)."""
    sql = statement.text.split(" RETURNING ")[0]
    used = _NAME.findall(sql)
    names = tuple(dict.fromkeys(used))
    converters = tuple(None if n in as_text else _converter(statement._bindparams[n].type, dialect) for n in names)
    if dialect.name == "sqlite":
        if len(names) == len(used):
            return _NAME.sub("?", sql), names, converters, True
        return sql, names, converters, False
    position = {n: i + 1 for i, n in enumerate(names)}
    return _NAME.sub(lambda m: f"${position[m.group(1)]}", sql), names, converters, True


async def write_rows(conn: AsyncConnection, statement: Executable, rows: Sequence[dict[str, Any]], *,
                     as_text: frozenset[str] = frozenset()) -> None:
    """Run ``statement`` (SQL text with typed parameters, db/statements.py) once per row.

    ``as_text`` names JSON parameters whose values are already JSON text."""
    if not rows:
        return
    clause = statement.element if isinstance(statement, TextualSelect) else statement
    assert isinstance(clause, TextClause)
    sql, names, converters, positional = _driver_form(clause, conn.dialect, as_text)
    pairs = tuple(zip(names, converters, strict=True))
    if not positional:
        named: list[Any] = [{n: c(row[n]) if c else row[n] for n, c in pairs} for row in rows]
        await conn.exec_driver_sql(sql, named)
        return
    converted = [tuple([c(row[n]) if c else row[n] for n, c in pairs]) for row in rows]
    await conn.exec_driver_sql(sql, converted)


@cache
def _unnest(table: Table, columns: tuple[str, ...], dialect: Dialect, conflict: str, returning: tuple[str, ...],
            as_text: frozenset[str]) -> tuple[str, tuple[Converter | None, ...]]:
    arrays = ", ".join(f"${i}::{table.c[c].type.compile(dialect=dialect)}[]" for i, c in enumerate(columns, 1))
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {conflict}"
           + (f" RETURNING {', '.join(returning)}" if returning else ""))
    converters = tuple(None if c in as_text else _converter(table.c[c].type, dialect) for c in columns)
    return sql, converters


async def insert_returning(conn: AsyncConnection, table: Table, columns: tuple[str, ...],
                           rows: Sequence[dict[str, Any]], *, conflict: str = "", returning: tuple[str, ...] = (),
                           as_text: frozenset[str] = frozenset()) -> list[Any]:
    """PostgreSQL: insert ``rows`` with one statement (``conflict``: e.g. ``ON CONFLICT DO NOTHING``);
    returns the ``returning`` columns of the rows it inserted."""
    assert conn.dialect.name == "postgresql"
    if not rows:
        return []
    sql, converters = _unnest(table, columns, conn.dialect, conflict, returning, as_text)
    arrays = tuple([c(row[name]) for row in rows] if c else [row[name] for row in rows]
                   for name, c in zip(columns, converters, strict=True))
    result = await conn.exec_driver_sql(sql, arrays)
    return list(result.all()) if returning else []


@cache
def _update(table: Table, columns: tuple[str, ...], flags: tuple[tuple[str, str], ...], dialect: Dialect,
            assignments: str, returning: tuple[str, ...]) -> tuple[str, tuple[Converter | None, ...]]:
    kinds = [table.c[c].type.compile(dialect=dialect) for c in columns] + [kind for _, kind in flags]
    names = [*columns, *(name for name, _ in flags)]
    arrays = ", ".join(f"${i}::{kind}[]" for i, kind in enumerate(kinds, 1))
    sql = (f"UPDATE {table.name} SET {assignments} FROM unnest({arrays}) AS u({', '.join(names)}) "
           f"WHERE {table.name}.store_id = u.store_id AND {table.name}.external_id = u.external_id "
           f"RETURNING {', '.join(f'{table.name}.{c}' for c in returning)}")
    converters = tuple(_converter(table.c[c].type, dialect) for c in columns) + (None,) * len(flags)
    return sql, converters


async def update_returning(conn: AsyncConnection, table: Table, columns: tuple[str, ...],
                           flags: tuple[tuple[str, str], ...], rows: Sequence[dict[str, Any]], assignments: str,
                           returning: tuple[str, ...]) -> list[Any]:
    """PostgreSQL: update the rows of ``table`` named by (``store_id``, ``external_id``) from ``rows`` in one
    statement; ``assignments`` reads the new values as ``u.<column>`` (and ``u.<flag>``, typed by
    ``flags``: name, SQL type).  Returns the ``returning`` columns of the rows it updated."""
    assert conn.dialect.name == "postgresql"
    if not rows:
        return []
    sql, converters = _update(table, columns, flags, conn.dialect, assignments, returning)
    names = (*columns, *(name for name, _ in flags))
    arrays = tuple([c(row[name]) for row in rows] if c else [row[name] for row in rows]
                   for name, c in zip(names, converters, strict=True))
    return list((await conn.exec_driver_sql(sql, arrays)).all())


async def keyed_rows(conn: AsyncConnection, table: Table, key: str, store_id: int, keys: Sequence[str],
                     columns: tuple[str, ...]) -> list[Any]:
    """The store's rows of ``table`` whose ``key`` is one of ``keys``, as the driver gives them (ids and
    text as they are, a time as SQLite's text), in one statement: the keys go as one array (PostgreSQL)
    or one JSON list (SQLite's ``json_each``) instead of chunks of bound parameters."""
    if not keys:
        return []
    selected = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        kind = table.c[key].type.compile(dialect=conn.dialect)
        sql = f"SELECT {selected} FROM {table.name} WHERE store_id = $1 AND {key} = ANY($2::{kind}[])"
        return list((await conn.exec_driver_sql(sql, (store_id, list(keys)))).all())
    sql = f"SELECT {selected} FROM {table.name} WHERE store_id = ? AND {key} IN (SELECT value FROM json_each(?))"
    return list((await conn.exec_driver_sql(sql, (store_id, json.dumps(list(keys))))).all())

"""``column IN <a list of keys>``, bound as one list.

SQLAlchemy's expanding ``IN`` writes one placeholder per key, so every list length is another SQL
text.  On PostgreSQL that defeats asyncpg's prepared-statement cache (keyed by the text): every miss
is another round trip to parse and plan, on the server's CPU too.  There the keys travel as one
array (``= ANY($1::BIGINT[])``), one text for every length.

SQLite keeps the expanding ``IN``: its planner takes a list of placeholders for what it is (a few
keys, so the primary key is the way in), while a list given as one value (``json_each``) looks
large to it and it would scan another index instead; preparing a statement there costs microseconds.

``unindexed`` is for the other conditions beside a key list when they lead an index (``status =
'waiting'``): with no statistics (no ``ANALYZE``), SQLite took that index over the key list and read
every waiting row to find the fifty asked for (17 ms a batch with 100,000 runs waiting, the wake's
largest cost).  On SQLite it is ``+status`` (the documented way to keep a term off the indexes);
elsewhere the column as it is (PostgreSQL has statistics).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, Boolean, ColumnElement, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import InternalTraversal


class InKeys(ColumnElement[bool]):
    """``column`` is one of the keys bound to ``keys`` (see ``in_keys``)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: no "= 1" after it on SQLite
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),  # noqa: RUF012 - SQLAlchemy's own shape
                           ("array", InternalTraversal.dp_clauseelement),
                           ("expanding", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.array: BindParameter[Any] = bindparam(name, type_=ARRAY(column.type))  # one of the two is compiled
        self.expanding: ColumnElement[bool] = column.in_(bindparam(name, expanding=True))


@compiles(InKeys, "postgresql")
def _any(element: InKeys, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.array, **kw)})"


@compiles(InKeys)
def _expanding(element: InKeys, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.expanding, **kw)


def in_keys(column: ColumnElement[Any], name: str) -> InKeys:
    """``column IN :name`` where ``:name`` is bound to a list (of any length, empty included)."""
    return InKeys(column, name)


class Unindexed(ColumnElement[Any]):
    """``column``, which SQLite must not look up by an index (see ``unindexed``)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012 - SQLAlchemy's own shape

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed, "sqlite")
def _unary_plus(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"  # SQLite's way to keep a term off the indexes


@compiles(Unindexed)
def _plain(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


def unindexed(column: ColumnElement[Any]) -> Unindexed:
    """``column`` in a condition beside ``in_keys`` on the primary key: on SQLite the rows are then found
    by their keys, not by an index this condition leads (see the module's docstring)."""
    return Unindexed(column)

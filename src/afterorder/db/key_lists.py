"""``column IN <a list of keys>``, bound as one list.

SQLAlchemy's expanding ``IN`` writes one placeholder per key, so every list length is another SQL
text.  On PostgreSQL that defeats asyncpg's prepared-statement cache (keyed by the text): every miss
is another round trip to parse and plan, on the server's CPU too.  There the keys travel as one
array (``= ANY($1::BIGINT[])``), one text for every length.

SQLite keeps the expanding ``IN``: its planner takes a list of placeholders for what it is (a few
keys, so the primary key is the way in), while a list given as one value (``json_each``) looks
large to it and it would scan another index instead; preparing a statement there costs microseconds.
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

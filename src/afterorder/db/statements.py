"""Hot-path statements, written once as SQL text with typed parameters.

SQLAlchemy cannot cache ``insert(...).on_conflict_*()`` constructs, so building and compiling one
cost milliseconds on every event.  These are plain SQL that reads the same on SQLite (3.35+) and
PostgreSQL, built once per table and column list, with each parameter typed from its column (so
datetimes, money and JSON are converted exactly as in the rest of the code).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON, Boolean, Executable, Integer, Table, TextClause, bindparam, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.sql.type_api import TypeEngine

from afterorder.db.schema import customers, orders

JSON_OR_NULL = JSON(none_as_null=True)


def _type(table: Table, column: str) -> TypeEngine[Any]:
    kind = table.c[column].type
    return JSON_OR_NULL if isinstance(kind, JSON) else kind


def _typed(sql: str, table: Table, columns: tuple[str, ...], returning: tuple[str, ...],
           extra: dict[str, TypeEngine[Any]] | None = None) -> Executable:
    if returning:
        sql += " RETURNING " + ", ".join(returning)
    params = [bindparam(c, type_=_type(table, c)) for c in columns]
    params += [bindparam(name, type_=kind) for name, kind in (extra or {}).items()]
    statement = text(sql).bindparams(*params)
    return statement.columns(*(table.c[c] for c in returning)) if returning else statement


typed_statement = _typed  # for repository modules that keep their own statements (db/catalog.py)


def _values(columns: tuple[str, ...]) -> str:
    return ", ".join(":" + c for c in columns)


@cache
def insert_rows(table: Table, columns: tuple[str, ...]) -> Executable:
    """A plain ``INSERT``; run it with one dict or a list of them."""
    return _typed(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({_values(columns)})", table, columns, ())


@cache
@cache
def insert_ignore(table: Table, columns: tuple[str, ...], returning: tuple[str, ...] = ()) -> Executable:
    """``INSERT ... ON CONFLICT DO NOTHING [RETURNING ...]``; run it with one dict or a list of them."""
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({_values(columns)}) "
           "ON CONFLICT DO NOTHING")
    return _typed(sql, table, columns, returning)


CUSTOMER_KEPT = ("email", "phone", "first_name", "last_name", "locale", "timezone", "country", "region", "city",
                 "birth_date", "gender", "life_stage", "occupation", "tags", "tag_list", "properties", "line_user_id")
CUSTOMER_COLUMNS = ("store_id", "external_id", *CUSTOMER_KEPT, "accepts_marketing", "created_at", "updated_at")


@cache
def upsert_customer() -> Executable:
    """Insert a customer, or update the fields the event gives (``None`` keeps the stored value)."""
    keep = ", ".join(f"{c} = COALESCE(excluded.{c}, customers.{c})" for c in CUSTOMER_KEPT)
    sql = (
        f"INSERT INTO customers ({', '.join(CUSTOMER_COLUMNS)}) VALUES ({_values(CUSTOMER_COLUMNS)}) "
        f"ON CONFLICT (store_id, external_id) DO UPDATE SET {keep}, "
        "accepts_marketing = CASE WHEN :marketing_given THEN excluded.accepts_marketing "
        "ELSE customers.accepts_marketing END, updated_at = excluded.updated_at"
    )
    return _typed(sql, customers, CUSTOMER_COLUMNS, ("id",), {"marketing_given": Boolean()})


ORDER_KEPT = ("customer_id", "subtotal", "shipping", "tax", "discount", "total", "shipping_address",
              "billing_address", "shipment", "paid_at", "shipped_at", "out_for_delivery_at", "delivered_at",
              "cancelled_at", "refunded_at")
ORDER_COLUMNS = ("store_id", "external_id", "number", "currency", "status", "placed_at", "updated_at", *ORDER_KEPT)
RANK_SQL = ("CASE orders.status WHEN 'placed' THEN 0 WHEN 'paid' THEN 1 WHEN 'shipped' THEN 2 "
            "WHEN 'delivered' THEN 3 ELSE 9 END")


@cache
def upsert_order() -> Executable:
    """Insert an order or merge an event into it; the status only moves forward (``:rank``)."""
    keep = ", ".join(f"{c} = COALESCE(excluded.{c}, orders.{c})" for c in ORDER_KEPT)
    sql = (
        f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES ({_values(ORDER_COLUMNS)}) "
        f"ON CONFLICT (store_id, external_id) DO UPDATE SET {keep}, "
        "number = CASE WHEN :number_given THEN excluded.number ELSE orders.number END, "
        "currency = CASE WHEN :currency_given THEN excluded.currency ELSE orders.currency END, "
        "placed_at = CASE WHEN :is_placed THEN excluded.placed_at ELSE orders.placed_at END, "
        f"status = CASE WHEN :rank >= 0 AND {RANK_SQL} <= :rank THEN excluded.status ELSE orders.status END, "
        "updated_at = excluded.updated_at"
    )
    flags: dict[str, TypeEngine[Any]] = {
        "number_given": Boolean(), "currency_given": Boolean(), "is_placed": Boolean(), "rank": Integer()}
    return _typed(sql, orders, ORDER_COLUMNS, ("id", "customer_id"), flags)


# ---- many rows at once, converted once -------------------------------------------------------------------------
# SQLAlchemy's executemany rebuilds and converts a parameter dict per row (~35 µs a row); for the
# thousands of rows of a history import batch, the rows are converted here with the same type
# processors and handed to the driver directly (about half the CPU).  Rows a RETURNING clause would
# give are not read (an executemany gives none).

_NAME = re.compile(r"(?<![:\w]):(\w+)")


@cache
def _driver_form(statement: TextClause, dialect: Dialect) -> tuple[str, tuple[str, ...],
                                                                   tuple[Callable[[Any], Any] | None, ...]]:
    sql = statement.text.split(" RETURNING ")[0]
    names = tuple(dict.fromkeys(_NAME.findall(sql)))
    processors = tuple(statement._bindparams[n].type._cached_bind_processor(dialect) for n in names)
    if dialect.name == "sqlite":  # sqlite3 takes :name parameters from a dict
        return sql, names, processors
    position = {n: i + 1 for i, n in enumerate(names)}
    return _NAME.sub(lambda m: f"${position[m.group(1)]}", sql), names, processors


async def execute_many(conn: AsyncConnection, statement: Executable, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``statement`` (SQL text with typed parameters) once per row, converting each value with its
    type's bind processor exactly as ``conn.execute(statement, rows)`` would."""
    if not rows:
        return
    clause = statement.element if isinstance(statement, TextualSelect) else statement  # text(...).columns(...)
    assert isinstance(clause, TextClause)
    sql, names, processors = _driver_form(clause, conn.dialect)
    pairs = tuple(zip(names, processors, strict=True))
    if conn.dialect.name == "sqlite":
        converted: list[Any] = [{n: p(row[n]) if p else row[n] for n, p in pairs} for row in rows]
    else:
        converted = [tuple(p(row[n]) if p else row[n] for n, p in pairs) for row in rows]
    await conn.exec_driver_sql(sql, converted)

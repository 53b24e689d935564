"""Storing and projecting a batch of history (an import) set-based: the same rows as
db/projections.py and db/events.py write for live events, in fewer, bigger statements.

- Customers are folded per customer before they are written, as orders already are
  (``merge_customer_params``): the row the database would reach applying them one by one.
- On PostgreSQL, rows new to the store go in with one ``INSERT ... SELECT FROM unnest(...)
  ON CONFLICT DO NOTHING RETURNING`` per table; the few that already exist (a later export of the
  same shop) then take the usual upserts, so they merge exactly as live events do.  Dedupe
  lookups take the batch's ids as one array.
- On SQLite the usual statements run as ``executemany`` with faster value converters.
- Events come prepared (db/history_rows.py): payload and raw record already JSON text, the
  projections' values already taken from the models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.bulk_rows import insert_returning, keyed_rows, update_returning, write_rows
from afterorder.db.catalog import fill_from_catalog
from afterorder.db.events import EVENT_COLUMNS, DuplicateRace
from afterorder.db.history_rows import Prepared
from afterorder.db.projections import LINE_COLUMNS, fold_params, merge_order_params
from afterorder.db.schema import customers, events, order_lines, orders
from afterorder.db.schema.types import sqlite_time
from afterorder.db.statements import (
    CUSTOMER_COLUMNS,
    CUSTOMER_KEPT,
    ORDER_COLUMNS,
    ORDER_KEPT,
    RANK_SQL,
    execute_many,
    insert_ignore,
    insert_rows,
    upsert_customer,
    upsert_order,
)

AS_TEXT = frozenset({"payload", "raw"})  # a prepared event's JSON columns come as JSON text
# What upsert_customer / upsert_order do to a row that exists, as an UPDATE from the batch's rows (``u``).
CUSTOMER_UPDATE = ", ".join([
    *(f"{c} = COALESCE(u.{c}, customers.{c})" for c in CUSTOMER_KEPT),
    "accepts_marketing = CASE WHEN u.marketing_given THEN u.accepts_marketing ELSE customers.accepts_marketing END",
    "updated_at = u.updated_at"])
ORDER_FLAGS = (("number_given", "BOOLEAN"), ("currency_given", "BOOLEAN"), ("is_placed", "BOOLEAN"),
               ("rank", "INTEGER"))
ORDER_UPDATE = ", ".join([
    *(f"{c} = COALESCE(u.{c}, orders.{c})" for c in ORDER_KEPT),
    "number = CASE WHEN u.number_given THEN u.number ELSE orders.number END",
    "currency = CASE WHEN u.currency_given THEN u.currency ELSE orders.currency END",
    "placed_at = CASE WHEN u.is_placed THEN u.placed_at ELSE orders.placed_at END",
    f"status = CASE WHEN u.rank >= 0 AND {RANK_SQL} <= u.rank THEN u.status ELSE orders.status END",
    "updated_at = u.updated_at"])
NEW_ONLY = "ON CONFLICT (store_id, external_id) DO NOTHING"


def _postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


async def stored_ids(conn: AsyncConnection, store_id: int, source_ids: Iterable[str]) -> set[str]:
    """Which of these ids the store has sent before."""
    rows = await keyed_rows(conn, events, "source_id", store_id, list(set(source_ids)), ("source_id",))
    return {r[0] for r in rows}


def merge_customer_params(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customers of a group, one each (``db.projections.fold_params``): consent is the last one
    given (``upsert_customer`` applied row after row reaches the same)."""
    return fold_params(params, CUSTOMER_KEPT, (("accepts_marketing", "marketing_given"),))


async def project_customers(conn: AsyncConnection, store_id: int, given: Sequence[dict[str, Any]],
                            now: datetime) -> dict[str, int]:
    """Upsert the customers ``given`` (``customer_fields`` of each event naming one, in event order);
    returns customer id by the store's customer key."""
    params = merge_customer_params([{**fields, "store_id": store_id, "created_at": now, "updated_at": now}
                                    for fields in given])
    if not params:
        return {}
    found: dict[str, int] = {}
    if _postgres(conn):
        inserted = await insert_returning(conn, customers, CUSTOMER_COLUMNS, params, conflict=NEW_ONLY,
                                          returning=("external_id", "id"))
        found = {key: int(id_) for key, id_ in inserted}
        params = [p for p in params if p["external_id"] not in found]
        updated = await update_returning(conn, customers, CUSTOMER_COLUMNS, (("marketing_given", "BOOLEAN"),), params,
                                         CUSTOMER_UPDATE, ("external_id", "id"))
        found.update({key: int(id_) for key, id_ in updated})
        params = [p for p in params if p["external_id"] not in found]  # gone meanwhile: the usual upsert
        if params:
            await execute_many(conn, upsert_customer(), params)
    else:
        await write_rows(conn, upsert_customer(), params)
    rows = await keyed_rows(conn, customers, "external_id", store_id, [p["external_id"] for p in params],
                            ("external_id", "id"))
    found.update({key: int(id_) for key, id_ in rows})
    return found


def order_batch(store_id: int, events_: Sequence[Prepared], customer_ids: dict[str, int], now: datetime
                ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The order upserts, one per order (merged in event order), and the lines each order ends with
    (the latest list of lines wins): ``db.projections.order_batch`` for prepared events."""
    params = []
    lines_by_order: dict[str, list[dict[str, Any]]] = {}
    for item in events_:
        if item.order is None or item.order_key is None:
            continue
        customer_id = customer_ids.get(item.customer_key) if item.customer_key is not None else None
        params.append({**item.order, "store_id": store_id, "customer_id": customer_id, "updated_at": now})
        if item.lines:
            lines_by_order[item.order_key] = item.lines
    return merge_order_params(params) if params else [], lines_by_order


async def project_orders(conn: AsyncConnection, store_id: int, events_: Sequence[Prepared],
                         customer_ids: dict[str, int], now: datetime) -> dict[str, tuple[int, int | None]]:
    """Upsert every event's order and replace its lines when the event lists them; returns
    ``(order id, customer id)`` by the store's order id."""
    params, lines_by_order = order_batch(store_id, events_, customer_ids, now)
    if not params:
        return {}
    found: dict[str, tuple[int, int | None]] = {}
    if _postgres(conn):
        inserted = await insert_returning(conn, orders, ORDER_COLUMNS, params, conflict=NEW_ONLY,
                                          returning=("external_id", "id", "customer_id"))
        found = {key: (int(id_), customer_id) for key, id_, customer_id in inserted}
        params = [p for p in params if p["external_id"] not in found]
        known = {p["external_id"] for p in params}  # orders that may have lines already
        updated = await update_returning(conn, orders, ORDER_COLUMNS, ORDER_FLAGS, params, ORDER_UPDATE,
                                         ("external_id", "id", "customer_id"))
        found.update({key: (int(id_), customer_id) for key, id_, customer_id in updated})
        params = [p for p in params if p["external_id"] not in found]  # gone meanwhile: the usual upsert
        if params:
            await execute_many(conn, upsert_order(), params)
    else:
        await write_rows(conn, upsert_order(), params)
        known = {p["external_id"] for p in params}
    rows = await keyed_rows(conn, orders, "external_id", store_id, [p["external_id"] for p in params],
                            ("external_id", "id", "customer_id"))
    found.update({key: (int(id_), customer_id) for key, id_, customer_id in rows})
    if lines_by_order:
        replaced = [found[key][0] for key in lines_by_order if key in known]
        if replaced:
            await conn.execute(order_lines.delete().where(order_lines.c.store_id == store_id,
                                                          order_lines.c.order_id.in_(replaced)))
        line_rows = [{"store_id": store_id, "order_id": found[key][0], "position": i, **line}
                     for key, lines in lines_by_order.items() for i, line in enumerate(lines)]
        await fill_from_catalog(conn, store_id, line_rows)
        if _postgres(conn):
            await insert_returning(conn, order_lines, LINE_COLUMNS, line_rows)
        else:
            await write_rows(conn, insert_rows(order_lines, LINE_COLUMNS), line_rows)
    return found


async def append_events(conn: AsyncConnection, store_id: int, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Append new events whose ``payload`` and ``raw`` are JSON text (the caller has filtered duplicates); returns
    event id by source id.  Raises ``DuplicateRace`` when another transaction stored one meanwhile."""
    if not rows:
        return {}
    if not _postgres(conn):
        await write_rows(conn, insert_ignore(events, EVENT_COLUMNS), rows, as_text=AS_TEXT)
        received = sqlite_time(rows[0]["received_at"])
        found: dict[str, int] = {}
        for source_id, id_, at in await keyed_rows(conn, events, "source_id", store_id,
                                                   [r["source_id"] for r in rows], ("source_id", "id", "received_at")):
            if at != received:  # not ours: another transaction stored it first
                raise DuplicateRace(source_id)
            found[source_id] = int(id_)
        if len(found) != len(rows):
            raise DuplicateRace(next(r["source_id"] for r in rows if r["source_id"] not in found))
        return found
    inserted = await insert_returning(conn, events, EVENT_COLUMNS, rows, conflict="ON CONFLICT DO NOTHING",
                                      returning=("source_id", "id"), as_text=AS_TEXT)
    found = {source_id: int(id_) for source_id, id_ in inserted}
    if len(found) != len(rows):  # one was stored by another transaction first
        raise DuplicateRace(next(r["source_id"] for r in rows if r["source_id"] not in found))
    return found

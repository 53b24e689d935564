"""Segments: named conditions over a store's customers, always current (no rebuild job).

A segment is stored as its condition (the YAML / JSON the store wrote).  Counting, listing and
"is this customer in it" all run the one compiled expression at the moment they are asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import customer_stats, customers, segments
from afterorder.db.stores import StoreRow
from afterorder.flows.conditions import Condition, ConditionError, parse_condition
from afterorder.segments.conditions import Context, compile_condition, customer_base, members_query

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class SegmentError(ValueError):
    """A segment could not be defined or found; the message names the problem."""


@dataclass(frozen=True)
class Segment:
    slug: str
    name: str
    definition: Any
    condition: Condition


async def _definitions(conn: AsyncConnection, store_id: int) -> dict[str, Segment]:
    rows = await conn.execute(select(segments.c.slug, segments.c.name, segments.c.definition)
                              .where(segments.c.store_id == store_id).order_by(segments.c.slug))
    return {r.slug: Segment(r.slug, r.name, r.definition, parse_condition(r.definition, f"segment {r.slug}"))
            for r in rows}


async def context(conn: AsyncConnection, store: StoreRow, now: datetime,
                  extra: dict[str, Segment] | None = None) -> Context:
    """What compiling needs for this store: its segments, for ``in_segment``."""
    known = {**await _definitions(conn, store.id), **(extra or {})}
    dialect = conn.dialect.name
    return Context(store.id, now, dialect, lambda slug: known[slug].condition if slug in known else None)


async def define(conn: AsyncConnection, store: StoreRow, slug: str, definition: Any, now: datetime,
                 name: str | None = None) -> Segment:
    """Create or replace a segment after checking it compiles (fields, operators, other segments)."""
    if not SLUG.match(slug):
        raise SegmentError("slug: use lowercase letters, digits and '-' (at most 63)")
    try:
        condition = parse_condition(definition)
        segment = Segment(slug, name or slug, definition, condition)
        compile_condition(condition, await context(conn, store, now, {slug: segment}))
    except ConditionError as exc:
        raise SegmentError(str(exc)) from None
    values = {"name": segment.name, "definition": definition, "updated_at": now}
    changed = await conn.execute(update(segments).where(segments.c.store_id == store.id, segments.c.slug == slug)
                                 .values(**values))
    if changed.rowcount == 0:
        await conn.execute(insert(segments).values(store_id=store.id, slug=slug, created_at=now, **values))
    return segment


async def remove(conn: AsyncConnection, store: StoreRow, slug: str) -> None:
    gone = await conn.execute(delete(segments).where(segments.c.store_id == store.id, segments.c.slug == slug))
    if gone.rowcount == 0:
        raise SegmentError(f"no segment {slug!r} in store {store.slug!r}")


async def get(conn: AsyncConnection, store: StoreRow, slug: str) -> Segment:
    found = (await _definitions(conn, store.id)).get(slug)
    if found is None:
        raise SegmentError(f"no segment {slug!r} in store {store.slug!r}")
    return found


async def listing(conn: AsyncConnection, store: StoreRow) -> list[Segment]:
    return list((await _definitions(conn, store.id)).values())


async def count(conn: AsyncConnection, store: StoreRow, segment: Segment, now: datetime) -> int:
    ctx = await context(conn, store, now)
    query = select(func.count()).select_from(members_query(segment.condition, ctx).subquery())
    return int((await conn.execute(query)).scalar_one())


MEMBER_COLUMNS = (customers.c.external_id.label("id"), customers.c.email, customers.c.first_name,
                  customers.c.last_name, customers.c.country, customers.c.locale,
                  func.coalesce(customer_stats.c.order_count, 0).label("order_count"),
                  func.coalesce(customer_stats.c.total_spent, 0).label("total_spent"),
                  customer_stats.c.last_order_at)


async def members(conn: AsyncConnection, store: StoreRow, segment: Segment, now: datetime, *,
                  limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """The members with their contact and purchase summary, in customer order."""
    ctx = await context(conn, store, now)
    query = (select(*MEMBER_COLUMNS).select_from(customer_base(store.id))
             .where(customers.c.store_id == store.id, compile_condition(segment.condition, ctx))
             .order_by(customers.c.id).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def is_member(conn: AsyncConnection, store: StoreRow, segment: Segment, customer_id: int,
                    now: datetime) -> bool:
    """The same expression as ``members``, asked about one customer."""
    ctx = await context(conn, store, now)
    query = members_query(segment.condition, ctx).where(customers.c.id == customer_id)
    return (await conn.execute(query)).first() is not None


async def customer_id_for(conn: AsyncConnection, store: StoreRow, external_id: str) -> int:
    found = (await conn.execute(select(customers.c.id).where(
        customers.c.store_id == store.id, customers.c.external_id == external_id))).scalar()
    if found is None:
        raise SegmentError(f"no customer {external_id!r} in store {store.slug!r}")
    return int(found)

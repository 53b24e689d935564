"""The condition language compiled to SQL (SQLAlchemy Core), for SQLite and PostgreSQL alike.

``compile_condition`` turns a parsed condition into one boolean SQL expression over ``customers``
(joined to ``customer_stats`` and ``customer_predictions``).  A segment's member list and "is this
customer in it" both select from that same expression — one with ``customers.id = :id`` added —
so they cannot disagree.  Flows ask the same question (``answers``) when a step runs.

Every leaf is made two-valued (``CASE WHEN leaf THEN 1 ELSE 0 END = 1``): a missing value is
false, and ``not`` of a false leaf is true, exactly as the Python side of the language reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    FromClause,
    Numeric,
    String,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import customer_predictions, customer_stats, customers, events
from afterorder.flows.conditions import (
    AllOf,
    AnyOf,
    Bought,
    Compare,
    Condition,
    ConditionError,
    CustomerSide,
    HasDone,
    InSegment,
    Not,
    customer_side,
)

VIP_AOV_FACTOR = 5  # AOV at least 5× the store's average order value ...
VIP_TOP_SHARE = Decimal("0.9")  # ... or in the top 10 % by spend (refreshed daily)

Resolve = Callable[[str], Condition | None]


@dataclass
class Context:
    """What compiling needs: the store, the moment, and the store's other segments."""

    store_id: int
    now: datetime
    dialect: str
    resolve: Resolve = field(default=lambda slug: None)
    _visiting: tuple[str, ...] = ()


def customer_base(store_id: int) -> FromClause:
    """customers ⟕ customer_stats ⟕ customer_predictions, for one store."""
    return customers.outerjoin(customer_stats, and_(
        customer_stats.c.store_id == customers.c.store_id, customer_stats.c.customer_id == customers.c.id,
    )).outerjoin(customer_predictions, and_(
        customer_predictions.c.store_id == customers.c.store_id,
        customer_predictions.c.customer_id == customers.c.id,
    ))


def _two_valued(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    return case((expr, 1), else_=0) == 1


def _number(value: Any, path: str) -> Decimal:
    if isinstance(value, bool):
        raise ConditionError(path, f"{value!r} is not a number")
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConditionError(path, f"{value!r} is not a number") from None


def _moment(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConditionError(path, f"{value!r} is not a date or time; write e.g. 2026-11-22 or "
                                   "2026-11-22T10:00:00+09:00") from None
    if parsed.tzinfo is None:
        raise ConditionError(path, f"{value!r} needs a time zone offset, or use within_last / before_last")
    return parsed


@dataclass(frozen=True)
class _Field:
    expr: ColumnElement[Any]
    kind: str  # "text" | "number" | "bool" | "time" | "date" | "tags" | "json"


def _store_average_order_value(store_id: int) -> ColumnElement[Any]:
    s = customer_stats.alias("store_avg")
    return (select(func.sum(s.c.total_spent) / func.nullif(func.sum(s.c.order_count), 0))
            .where(s.c.store_id == store_id).scalar_subquery())


def _field(name: str, ctx: Context) -> _Field:
    root, _, rest = name.partition(".")
    if root == "customer":
        if rest.startswith("properties."):
            return _Field(customers.c.properties[rest.split(".", 1)[1]], "json")
        if rest == "id":
            return _Field(customers.c.external_id, "text")
        column = customers.c[rest]
        if rest == "tags":
            return _Field(customers.c.tag_list, "tags")
        if rest == "birth_date":
            return _Field(column, "date")
        if rest == "created_at":
            return _Field(column, "time")
        if rest == "accepts_marketing":
            return _Field(column, "bool")
        return _Field(column, "text")
    if root == "stats":
        count = func.coalesce(customer_stats.c.order_count, 0)
        spent = func.coalesce(customer_stats.c.total_spent, 0)
        aov = spent / func.nullif(count, 0)
        derived: dict[str, _Field] = {
            "order_count": _Field(count, "number"),
            "total_spent": _Field(spent, "number"),
            "aov": _Field(aov, "number"),
            "refund_count": _Field(func.coalesce(customer_stats.c.refund_count, 0), "number"),
            "cancel_count": _Field(func.coalesce(customer_stats.c.cancel_count, 0), "number"),
            "is_first_time": _Field(count == 1, "bool"),
            "is_repeat": _Field(count >= 2, "bool"),
            "international": _Field(func.coalesce(customer_stats.c.international, false()), "bool"),
            "vip": _Field(or_(aov >= VIP_AOV_FACTOR * _store_average_order_value(ctx.store_id),
                              customer_stats.c.spend_percentile >= VIP_TOP_SHARE), "bool"),
        }
        if rest in derived:
            return derived[rest]
        if rest == "days_since_last_order":
            return _Field(customer_stats.c.last_order_at, "days_since")
        column = customer_stats.c[rest]
        return _Field(column, "time" if rest.endswith("_at") else "number")
    if root == "prediction":
        column = customer_predictions.c[rest]
        return _Field(column, "time" if rest == "predicted_next_order" else "number")
    raise ConditionError(name, f"segments are about customers: {root}.* is only known inside a flow, "
                               "where there is a current event and order; use has_done, bought or stats.*")


def _compare(cond: Compare, ctx: Context) -> ColumnElement[bool]:
    f = _field(cond.field, ctx)
    op, value, path = cond.op, cond.value, f"{cond.field}"
    expr = f.expr
    if op == "exists":
        # a JSON property: test its text (SQLite's JSON_QUOTE of a missing key is the string 'null', never NULL)
        present: ColumnElement[bool] = (f.expr.as_string() if f.kind == "json" else expr).is_not(None)
        if f.kind == "tags":
            present = and_(present, expr != ",")
        return present if value else not_(present)
    if f.kind == "days_since":
        # days since the last order ≥ N  ⇔  the last order was at least N days ago
        if op in ("within_last", "before_last", "in", "not_in", "contains"):
            raise ConditionError(path, f"operator {op!r} does not apply to a number of days; use gt, gte, lt, lte")
        days = _number(value, path)
        boundary = ctx.now - timedelta(days=float(days))
        flipped = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}[op]
        if op in ("eq", "ne"):
            raise ConditionError(path, "compare a number of days with gt, gte, lt or lte")
        return _ordered(flipped, expr, boundary)
    if op in ("within_last", "before_last"):
        if f.kind not in ("time", "date"):
            raise ConditionError(path, f"operator {op!r} needs a date or time field")
        boundary = ctx.now - value
        bound: Any = boundary.date() if f.kind == "date" else boundary
        return _ordered("gte" if op == "within_last" else "lt", expr, bound)
    if f.kind == "tags":
        if op == "contains":
            return _contains(expr, f",{value},", ctx)
        if op in ("in", "not_in"):
            hit = or_(*[_contains(expr, f",{v},", ctx) for v in value])
            return hit if op == "in" else not_(_two_valued(hit))
        raise ConditionError(path, f"operator {op!r} does not apply to tags; use contains, in, not_in or exists")
    if op == "contains":
        if f.kind not in ("text", "json"):
            raise ConditionError(path, "operator 'contains' needs a text field or tags")
        return _contains(_as_text(f), str(value), ctx)
    if op in ("in", "not_in"):
        items = [_literal(f, v, path) for v in value]
        hit = _as(f, value[0] if value else "").in_(items) if items else false()
        return hit if op == "in" else not_(_two_valued(hit))
    if op == "ne":  # a missing value differs from any value, as in the flow language
        left = _as(f, value)
        return or_(left.is_(None), left != _literal(f, value, path))
    return _ordered(op, _as(f, value), _literal(f, value, path))


def _as_text(f: _Field) -> ColumnElement[Any]:
    text: ColumnElement[Any] = f.expr.as_string() if f.kind == "json" else f.expr
    return text


def _as(f: _Field, value: Any) -> ColumnElement[Any]:
    if f.kind != "json":
        return f.expr
    typed: ColumnElement[Any]
    if isinstance(value, bool):
        typed = f.expr.as_boolean()
    elif isinstance(value, int | float | Decimal):
        typed = f.expr.as_float()
    else:
        typed = f.expr.as_string()
    return typed


def _literal(f: _Field, value: Any, path: str) -> Any:
    if f.kind == "number":
        return literal(_number(value, path), Numeric(24, 6))
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise ConditionError(path, f"{value!r} is not true or false")
        return literal(value, Boolean())
    if f.kind == "time":
        return _moment(value, path)
    if f.kind == "date":
        try:
            return literal(value if isinstance(value, date) else date.fromisoformat(str(value)), Date())
        except ValueError:
            raise ConditionError(path, f"{value!r} is not a date; write YYYY-MM-DD") from None
    if f.kind == "json":
        if isinstance(value, bool):
            return literal(value, Boolean())
        if isinstance(value, int | float | Decimal):
            return float(value)
        return literal(str(value), String())
    return literal(str(value), String())


def _ordered(op: str, left: Any, right: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool]
    if op == "eq":
        result = left == right
    elif op == "ne":
        result = left != right
    elif op == "gt":
        result = left > right
    elif op == "gte":
        result = left >= right
    elif op == "lt":
        result = left < right
    else:
        result = left <= right
    return result


def _contains(expr: ColumnElement[Any], needle: str, ctx: Context) -> ColumnElement[bool]:
    """Case-sensitive substring test on both databases (LIKE is case-insensitive on SQLite)."""
    if ctx.dialect == "postgresql":
        return func.strpos(expr, needle) > 0
    return func.instr(expr, needle) > 0


def _has_done(cond: HasDone, ctx: Context) -> ColumnElement[bool]:
    query = select(func.count()).select_from(events).where(
        events.c.store_id == ctx.store_id, events.c.customer_id == customers.c.id,
        events.c.type == cond.event.value)
    if cond.within is not None:
        query = query.where(events.c.occurred_at >= ctx.now - cond.within)
    return query.scalar_subquery() >= cond.at_least


def _bought(cond: Bought, ctx: Context) -> ColumnElement[bool]:
    """From the statistics' map of what the customer bought and when (kept with every order event):
    no join over the order history, so it stays fast at millions of orders."""
    bought = customer_stats.c.products if cond.product is not None else customer_stats.c.categories
    day: ColumnElement[str] = bought[cond.product if cond.product is not None else cond.category].as_string()
    if cond.within is None:
        return day.is_not(None)
    return _ordered("gte", day, (ctx.now - cond.within).date().isoformat())


def compile_condition(cond: Condition, ctx: Context, path: str = "condition") -> ColumnElement[bool]:
    """One SQL boolean for ``cond``, to use in a WHERE over ``customer_base``."""
    if isinstance(cond, AllOf):
        return and_(*[compile_condition(p, ctx, f"{path}.all[{i}]") for i, p in enumerate(cond.parts)])
    if isinstance(cond, AnyOf):
        return or_(*[compile_condition(p, ctx, f"{path}.any[{i}]") for i, p in enumerate(cond.parts)])
    if isinstance(cond, Not):
        return not_(compile_condition(cond.part, ctx, f"{path}.not"))
    if isinstance(cond, InSegment):
        if cond.segment in ctx._visiting:
            raise ConditionError(f"{path}.in_segment", "segments refer to each other in a circle: "
                                                       + " → ".join((*ctx._visiting, cond.segment)))
        inner = ctx.resolve(cond.segment)
        if inner is None:
            raise ConditionError(f"{path}.in_segment", f"no segment {cond.segment!r} in this store")
        nested = Context(ctx.store_id, ctx.now, ctx.dialect, ctx.resolve, (*ctx._visiting, cond.segment))
        return compile_condition(inner, nested, f"segment {cond.segment}")
    try:
        if isinstance(cond, HasDone):
            leaf = _has_done(cond, ctx)
        elif isinstance(cond, Bought):
            leaf = _bought(cond, ctx)
        else:
            leaf = _compare(cond, ctx)
    except ConditionError as exc:
        raise ConditionError(f"{path}: {exc.path}" if exc.path != path else path, exc.problem) from None
    return _two_valued(leaf)


def members_query(cond: Condition, ctx: Context) -> Any:
    """SELECT the ids of the store's customers who meet ``cond``."""
    return (select(customers.c.id).select_from(customer_base(ctx.store_id))
            .where(customers.c.store_id == ctx.store_id, compile_condition(cond, ctx)))


async def answers(conn: AsyncConnection, ctx: Context, conditions: Iterable[Condition],
                  customer_ids: Sequence[int]) -> dict[int, dict[CustomerSide, bool]]:
    """For flows: every customer-side part of ``conditions``, answered for each customer, in one query."""
    parts = list(dict.fromkeys(p for c in conditions for p in customer_side(c)))
    if not parts or not customer_ids:
        return {}
    columns = [case((compile_condition(p, ctx), 1), else_=0).label(f"c{i}") for i, p in enumerate(parts)]
    found: dict[int, dict[CustomerSide, bool]] = {}
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), 500):
        rows = await conn.execute(select(customers.c.id, *columns).select_from(customer_base(ctx.store_id)).where(
            customers.c.store_id == ctx.store_id, customers.c.id.in_(wanted[start:start + 500])))
        for row in rows:
            found[row[0]] = {p: bool(row[i + 1]) for i, p in enumerate(parts)}
    return found

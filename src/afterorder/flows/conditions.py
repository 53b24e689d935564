"""The condition language, one for flow triggers, ``if`` steps and segments (YAML / JSON).

    {field: order.total, op: gte, value: 5000}            compare a field
    {field: stats.last_order_at, op: within_last, value: 90d}
    {has_done: order.placed, at_least: 2, within: 365d}   events of the customer
    {bought: {category: tea}, within: 90d}                or {bought: {product: SKU-1}}
    {in_segment: repeat-buyers}                           another segment of the store
    {all: [...]}, {any: [...]}, {not: {...}}

Fields: ``customer.*`` (profile; ``customer.properties.KEY`` for custom ones), ``stats.*`` (purchase
statistics), ``prediction.*`` (BG/NBD + Gamma-Gamma), and in flows also ``event.*``, ``order.*``,
``shipment.*``, ``properties.*``, ``store.*``.

Parsing checks the shape once, at load, and names the field and the problem.  The customer side
(customer, stats, prediction, has_done, bought, in_segment) is compiled to SQL by
``afterorder.segments.conditions`` — for segments and for flows alike, so a flow and a segment
can never disagree about a customer.  ``evaluate`` is pure: it reads those answers from
``facts["sql"]`` (filled by the caller from the compiled SQL) and evaluates the event / order side
in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from afterorder.domain import EventType
from afterorder.flows.durations import parse_duration

ROOTS = ("event", "customer", "order", "store", "shipment", "properties", "stats", "prediction")
CUSTOMER_ROOTS = ("customer", "stats", "prediction")
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists", "within_last", "before_last")
_SYMBOLS = {"==": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}

CUSTOMER_FIELDS = ("id", "email", "phone", "first_name", "last_name", "locale", "timezone", "country", "region",
                   "city", "birth_date", "gender", "life_stage", "occupation", "tags", "accepts_marketing",
                   "created_at")
STATS_FIELDS = ("order_count", "total_spent", "aov", "first_order_at", "last_order_at", "days_since_last_order",
                "refund_count", "cancel_count", "is_first_time", "is_repeat", "international", "last_open_at",
                "last_click_at", "rfm_recency", "rfm_frequency", "rfm_monetary", "spend_percentile", "vip")
PREDICTION_FIELDS = ("probability_alive", "expected_orders_30d", "expected_orders_90d", "expected_orders_365d",
                     "predicted_next_order", "expected_order_value", "predicted_clv_365d")
KNOWN = {"customer": CUSTOMER_FIELDS, "stats": STATS_FIELDS, "prediction": PREDICTION_FIELDS}


class ConditionError(ValueError):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any

    @property
    def root(self) -> str:
        return self.field.split(".")[0]


@dataclass(frozen=True)
class HasDone:
    """The customer had at least ``at_least`` events of this type (within the last ``within``)."""

    event: EventType
    at_least: int = 1
    within: timedelta | None = None


@dataclass(frozen=True)
class Bought:
    """The customer bought this product (id or SKU) or something in this category (within ``within``)."""

    product: str | None = None
    category: str | None = None
    within: timedelta | None = None


@dataclass(frozen=True)
class InSegment:
    segment: str


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Compare | HasDone | Bought | InSegment | AllOf | AnyOf | Not
CustomerSide = Compare | HasDone | Bought | InSegment


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _window(raw: Mapping[str, Any], path: str) -> timedelta | None:
    if "within" not in raw:
        return None
    try:
        return parse_duration(raw["within"])
    except ValueError as exc:
        raise ConditionError(f"{path}.within", str(exc)) from None


def _only(raw: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ConditionError(path, f"unknown key(s) {sorted(unknown)} beside {sorted(allowed)[0]!r}; "
                                   f"allowed: {', '.join(sorted(allowed))}")


def check_field(field: Any, path: str) -> str:
    if not isinstance(field, str) or field.split(".")[0] not in ROOTS or "." not in field:
        raise ConditionError(path, f"{field!r} must start with one of {', '.join(ROOTS)}")
    root, _, rest = field.partition(".")
    if root in KNOWN:
        name = rest.split(".")[0]
        if root == "customer" and name == "properties" and rest.count(".") == 1:
            return field
        if name not in KNOWN[root] or "." in rest:
            raise ConditionError(path, f"{field!r} is not a {root} field; known: {', '.join(KNOWN[root])}"
                                       + (", properties.KEY" if root == "customer" else ""))
    return field


def parse_condition(raw: Any, path: str = "condition") -> Condition:
    if isinstance(raw, list):
        if not raw:
            raise ConditionError(path, "an empty list; give at least one condition")
        return AllOf(tuple(parse_condition(p, f"{path}[{i}]") for i, p in enumerate(raw)))
    if not isinstance(raw, Mapping):
        raise ConditionError(path, "expected a mapping such as {field: order.total, op: gte, value: 100}")
    keys = set(raw)
    for combinator in ("all", "any"):
        if combinator in keys:
            if keys != {combinator} or not isinstance(raw[combinator], list) or not raw[combinator]:
                raise ConditionError(path, f"'{combinator}' takes a non-empty list and nothing beside it")
            parts = tuple(
                parse_condition(p, f"{path}.{combinator}[{i}]") for i, p in enumerate(raw[combinator])
            )
            return AllOf(parts) if combinator == "all" else AnyOf(parts)
    if "not" in keys:
        if keys != {"not"}:
            raise ConditionError(path, "'not' takes one condition and nothing beside it")
        return Not(parse_condition(raw["not"], f"{path}.not"))
    if "has_done" in keys:
        _only(raw, path, {"has_done", "at_least", "within"})
        try:
            event = EventType(raw["has_done"])
        except ValueError:
            raise ConditionError(f"{path}.has_done", f"unknown event type {raw['has_done']!r}; use one of "
                                                     f"{', '.join(e.value for e in EventType)}") from None
        at_least = raw.get("at_least", 1)
        if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
            raise ConditionError(f"{path}.at_least", f"{at_least!r} must be a whole number, 1 or more")
        return HasDone(event, at_least, _window(raw, path))
    if "bought" in keys:
        _only(raw, path, {"bought", "within"})
        what = raw["bought"]
        if not isinstance(what, Mapping) or len(what) != 1 or next(iter(what)) not in ("product", "category") \
                or not isinstance(next(iter(what.values())), str | int) or not str(next(iter(what.values()))):
            raise ConditionError(f"{path}.bought", "give one of {product: ID_OR_SKU} or {category: NAME}")
        kind, value = next(iter(what.items()))
        return Bought(**{kind: str(value)}, within=_window(raw, path))
    if "in_segment" in keys:
        _only(raw, path, {"in_segment"})
        if not isinstance(raw["in_segment"], str) or not raw["in_segment"]:
            raise ConditionError(f"{path}.in_segment", "give the segment's slug")
        return InSegment(raw["in_segment"])
    unknown = keys - {"field", "op", "value"}
    if unknown:
        raise ConditionError(path, f"unknown key(s) {sorted(unknown)}; use field, op, value, all, any, not, "
                                   "has_done, bought, in_segment")
    field = check_field(raw.get("field"), f"{path}.field")
    op = _SYMBOLS.get(str(raw.get("op", "eq")), str(raw.get("op", "eq")))
    if op not in OPS:
        raise ConditionError(f"{path}.op", f"unknown operator {raw.get('op')!r}; use one of {', '.join(OPS)}")
    if op != "exists" and "value" not in raw:
        raise ConditionError(f"{path}.value", f"operator {op!r} needs a value")
    if op in ("in", "not_in") and not isinstance(raw.get("value"), list):
        raise ConditionError(f"{path}.value", f"operator {op!r} needs a list")
    value = raw.get("value", True)
    if op in ("within_last", "before_last"):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            raise ConditionError(f"{path}.value", f"operator {op!r} needs a duration such as 90d: {exc}") from None
    return Compare(field=field, op=op, value=_frozen(value))


def customer_side(condition: Condition) -> list[CustomerSide]:
    """The parts of a condition that are about the customer (answered by the compiled SQL)."""
    if isinstance(condition, AllOf | AnyOf):
        return [p for part in condition.parts for p in customer_side(part)]
    if isinstance(condition, Not):
        return customer_side(condition.part)
    if isinstance(condition, Compare) and condition.root not in CUSTOMER_ROOTS:
        return []
    return [condition]


def lookup(facts: Mapping[str, Any], dotted: str) -> Any:
    current: Any = facts
    for part in dotted.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is None:
            return None
    return current


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(left, int | float | Decimal) or isinstance(right, int | float | Decimal):
        try:
            return Decimal(str(left)), Decimal(str(right))
        except (InvalidOperation, ValueError):
            return str(left), str(right)
    if isinstance(left, datetime) and isinstance(right, str):
        return left, datetime.fromisoformat(right)
    return left, right


def evaluate(condition: Condition, facts: Mapping[str, Any], now: datetime | None = None) -> bool:
    """Evaluate on plain facts.  Customer-side parts are read from ``facts["sql"]`` when the caller
    compiled them (always, in flows); without it ``customer.*`` fields are read from the facts."""
    if isinstance(condition, AllOf):
        return all(evaluate(p, facts, now) for p in condition.parts)
    if isinstance(condition, AnyOf):
        return any(evaluate(p, facts, now) for p in condition.parts)
    if isinstance(condition, Not):
        return not evaluate(condition.part, facts, now)
    answers = facts.get("sql")
    if isinstance(answers, Mapping) and condition in answers:
        return bool(answers[condition])
    if not isinstance(condition, Compare) or condition.root in ("stats", "prediction"):
        return False  # a customer-side question nobody compiled: no customer to ask about
    actual = lookup(facts, condition.field)
    op, expected = condition.op, condition.value
    if op == "exists":
        return (actual is not None) == bool(expected)
    if op in ("within_last", "before_last"):
        if not isinstance(actual, datetime) or now is None:
            return False
        return bool(actual >= now - expected) if op == "within_last" else bool(actual < now - expected)
    if op in ("in", "not_in"):
        found = any(_equal(actual, item) for item in expected)
        return found if op == "in" else not found
    if op == "contains":
        if isinstance(actual, str):
            return str(expected) in actual
        if isinstance(actual, list | tuple):
            return any(_equal(item, expected) for item in actual)
        return False
    if actual is None:
        return op == "ne"
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    try:
        left, right = _comparable(actual, expected)
        if op == "gt":
            return bool(left > right)
        if op == "gte":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def _equal(left: Any, right: Any) -> bool:
    a, b = _comparable(left, right)
    return bool(a == b)

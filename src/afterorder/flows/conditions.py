"""Conditions on an event, customer and order, as written in flow files.

    {field: order.total, op: gte, value: 5000}
    {all: [...]}, {any: [...]}, {not: {...}}

Parsing checks the shape once, at load; evaluation is pure and works on the plain ``facts``
mapping the scheduler builds (``event``, ``customer``, ``order``, ``store``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ROOTS = ("event", "customer", "order", "store", "shipment", "properties")
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists")
_SYMBOLS = {"==": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


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


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Compare | AllOf | AnyOf | Not


def parse_condition(raw: Any, path: str = "condition") -> Condition:
    if isinstance(raw, list):
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
    unknown = keys - {"field", "op", "value"}
    if unknown:
        raise ConditionError(path, f"unknown key(s) {sorted(unknown)}; use field, op, value, all, any, not")
    field = raw.get("field")
    if not isinstance(field, str) or field.split(".")[0] not in ROOTS or "." not in field:
        raise ConditionError(f"{path}.field", f"{field!r} must start with one of {', '.join(ROOTS)}")
    op = _SYMBOLS.get(str(raw.get("op", "eq")), str(raw.get("op", "eq")))
    if op not in OPS:
        raise ConditionError(f"{path}.op", f"unknown operator {raw.get('op')!r}; use one of {', '.join(OPS)}")
    if op != "exists" and "value" not in raw:
        raise ConditionError(f"{path}.value", f"operator {op!r} needs a value")
    if op in ("in", "not_in") and not isinstance(raw.get("value"), list):
        raise ConditionError(f"{path}.value", f"operator {op!r} needs a list")
    return Compare(field=field, op=op, value=raw.get("value", True))


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


def evaluate(condition: Condition, facts: Mapping[str, Any]) -> bool:
    if isinstance(condition, AllOf):
        return all(evaluate(p, facts) for p in condition.parts)
    if isinstance(condition, AnyOf):
        return any(evaluate(p, facts) for p in condition.parts)
    if isinstance(condition, Not):
        return not evaluate(condition.part, facts)
    actual = lookup(facts, condition.field)
    op, expected = condition.op, condition.value
    if op == "exists":
        return (actual is not None) == bool(expected)
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

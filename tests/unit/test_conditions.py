"""The condition language as flows use it."""

from __future__ import annotations

import pytest

from afterorder.flows.conditions import ConditionError, evaluate, parse_condition

FACTS = {"order": {"total": "15000.0000", "currency": "JPY", "categories": ["tea", "teaware"], "status": "placed"},
         "customer": {"country": "JP", "locale": "ja", "phone": None}}


@pytest.mark.parametrize(("condition", "expected"), [
    ({"field": "order.total", "op": "gte", "value": 15000}, True),
    ({"field": "order.total", "op": ">", "value": 15000}, False),
    ({"field": "order.currency", "op": "in", "value": ["JPY", "CNY"]}, True),
    ({"field": "order.categories", "op": "contains", "value": "tea"}, True),
    ({"field": "customer.phone", "op": "exists"}, False),
    ({"field": "customer.email", "op": "ne", "value": "x"}, True),
    ({"all": [{"field": "customer.country", "value": "JP"}, {"not": {"field": "order.status", "value": "refunded"}}]},
     True),
    ({"any": [{"field": "customer.country", "value": "US"}, {"field": "customer.locale", "value": "en"}]}, False),
])
def test_evaluates(condition: dict[str, object], expected: bool) -> None:
    assert evaluate(parse_condition(condition), FACTS) is expected


@pytest.mark.parametrize(("condition", "message"), [
    ({"field": "total", "op": "gt", "value": 1}, "condition.field: 'total' must start with one of"),
    ({"field": "order.total", "op": "gt"}, "condition.value: operator 'gt' needs a value"),
    ({"all": []}, "'all' takes a non-empty list"),
    ({"field": "order.total", "op": "in", "value": 3}, "needs a list"),
    ({"field": "order.total", "value": 3, "unit": "yen"}, "unknown key(s) ['unit']"),
])
def test_errors_name_the_field_and_problem(condition: dict[str, object], message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(condition)
    assert message in str(caught.value)

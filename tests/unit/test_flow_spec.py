"""Flow files: what a store owner writes, and the errors they get when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.spec import Branch, FlowError, Jump, Send, WaitEvent, WaitFor, WaitUntil, parse_flow

GOOD = """\
id: vip-thanks
trigger:
  event: order.placed
  conditions: {field: order.total, op: gte, value: 50000}
exit_on: [order.cancelled]
steps:
  - wait: 2h
  - if: {any: [{field: customer.country, op: eq, value: JP}, {field: order.currency, op: in, value: [JPY]}]}
    then:
      - send: {template: order-confirmation, category: marketing}
    else:
      - exit: not in Japan
  - wait: {until: {time: "10:00", weekday: [sat, sun]}}
  - wait: {for_event: order.delivered, timeout: 10d, on_timeout: exit}
"""


def test_a_flow_compiles_to_a_flat_program_with_jumps() -> None:
    flow = parse_flow(GOOD, "vip.yaml")
    kinds = [type(i) for i in flow.program]
    assert kinds == [WaitFor, Branch, Send, Jump, type(flow.program[4]), WaitUntil, WaitEvent]
    branch = flow.program[1]
    assert isinstance(branch, Branch) and branch.otherwise == 4
    assert flow.subject == "order" and flow.reentry == "once_per_order"
    until = flow.program[5]
    assert isinstance(until, WaitUntil) and until.weekdays == (5, 6)


def test_the_version_changes_with_the_text() -> None:
    assert parse_flow(GOOD).version != parse_flow(GOOD.replace("2h", "3h")).version


@pytest.mark.parametrize(("change", "line", "message"), [
    (("2h", "2 hourz"), 7, "steps[0].wait.duration: '2 hourz' is not a duration"),
    (("category: marketing", "category: promo"), 10, "must be 'transactional' or 'marketing'"),
    (("event: order.placed", "event: order.teleported"), 3, "trigger.event: unknown event type 'order.teleported'"),
    (("op: gte", "op: bigger"), 4, "trigger.conditions.op: unknown operator 'bigger'"),
    (("on_timeout: exit", "on_timeout: explode"), 14, "on_timeout: must be 'continue' or 'exit'"),
    (("  - wait: 2h", "  - wiat: 2h"), 7, "steps[0]: a step is exactly one of: wait, send, if, exit"),
    (('time: "10:00"', 'time: "25:99"'), 13, "is not a time of day"),
])
def test_mistakes_name_the_file_line_and_problem(change: tuple[str, str], line: int, message: str) -> None:
    with pytest.raises(FlowError) as caught:
        parse_flow(GOOD.replace(*change), "vip.yaml")
    assert str(caught.value).startswith(f"vip.yaml:{line}: ")
    assert message in str(caught.value)


def test_broken_yaml_and_missing_keys() -> None:
    with pytest.raises(FlowError, match=r"^x.yaml:2: not valid YAML: .*found character"):
        parse_flow("id: a\nsteps: @oops\n", "x.yaml")
    with pytest.raises(FlowError, match="missing required key 'trigger'"):
        parse_flow("id: a\nsteps:\n  - wait: 1d\n", "x.yaml")
    with pytest.raises(FlowError, match="needs a timeout"):
        parse_flow("id: a\ntrigger: order.shipped\nsteps:\n  - wait: {for_event: order.delivered}\n", "x.yaml")
    with pytest.raises(FlowError, match="per-order flow needs an order event"):
        parse_flow("id: a\nsubject: order\ntrigger: customer.created\nsteps:\n  - wait: 1d\n", "x.yaml")


def test_the_library_loads_and_a_store_directory_overrides_it(tmp_path: Path) -> None:
    catalog = FlowCatalog.load()
    assert {"order-confirmation", "shipping-confirmation", "delivery-follow-up"} <= set(catalog.flows)
    assert all(catalog.get(f).enabled_by_default for f in ("order-confirmation", "delivery-follow-up"))
    (tmp_path / "delivery-follow-up.yaml").write_text("id: delivery-follow-up\ntrigger: order.shipped\n"
                                                      "steps:\n  - wait: 5d\n")
    assert isinstance(FlowCatalog.load([tmp_path]).get("delivery-follow-up").program[0], WaitFor)
    (tmp_path / "bad.yaml").write_text("id: bad\ntrigger: order.shipped\nsteps:\n  - wait: soon\n")
    with pytest.raises(FlowError, match=r"bad.yaml:4: steps\[0\].wait.duration"):
        FlowCatalog.load([tmp_path])


def test_a_store_folder_adds_flows_for_that_store_only(tmp_path: Path) -> None:
    (tmp_path / "kumo").mkdir()
    (tmp_path / "kumo" / "tea-tips.yaml").write_text("id: tea-tips\ntrigger: order.delivered\nsteps:\n"
                                                    "  - wait: 7d\n  - send: {template: how-to, category: marketing}\n")
    catalog = FlowCatalog.load([tmp_path])
    assert "tea-tips" in catalog.flows_for("kumo") and "tea-tips" not in catalog.flows_for("harbor")
    assert "order-confirmation" in catalog.flows_for("kumo")

"""Which due runs the scheduler takes first: those that may send a transactional message now."""

from __future__ import annotations

from afterorder.flows.spec import parse_flow
from afterorder.flows.urgency import FIRST, LATER, priority

FOLLOW_UP = parse_flow("""\
id: f
trigger: order.shipped
steps:
  - wait: {for_event: order.delivered, timeout: 10d}
  - wait: 3d
  - send: {template: ask, category: transactional}
  - wait: 30d
  - send: {template: review, category: marketing}
""")


def test_a_wait_that_ends_in_another_wait_sends_nothing_when_it_wakes() -> None:
    assert priority(FOLLOW_UP, 0) == LATER, "waking from the delivery wait only starts the three days"
    assert priority(FOLLOW_UP, 1) == FIRST, "waking from the three days sends the transactional message"
    assert priority(FOLLOW_UP, 2) == FIRST
    assert priority(FOLLOW_UP, 3) == LATER, "then a marketing message"
    assert priority(FOLLOW_UP, 5) == LATER, "the end"


def test_a_branch_before_the_next_wait_keeps_the_first_send_down_the_program() -> None:
    branching = parse_flow("""\
id: g
trigger: order.shipped
steps:
  - wait: {for_event: order.delivered, timeout: 10d}
  - if: {field: order.total, op: gte, value: 10000}
    then:
      - wait: 3d
    else:
      - send: {template: now, category: transactional}
""")
    assert priority(branching, 0) == FIRST, "the else side may send at once: never late"


def test_a_first_step_that_sends_is_first() -> None:
    confirmation = parse_flow("id: c\ntrigger: order.placed\nsteps:\n"
                              "  - send: {template: c, category: transactional}\n")
    assert priority(confirmation, 0) == FIRST

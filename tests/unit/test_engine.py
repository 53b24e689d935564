"""The pure engine: given a run, a flow, facts and a time, what happens next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from afterorder.domain import EventType
from afterorder.flows.engine import Facts, FactsNeeded, RunState, advance, events_looked_at, next_time_of_day
from afterorder.flows.spec import parse_flow

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # Friday 12:00 in Tokyo
FLOW = parse_flow("""\
id: f
trigger: order.shipped
exit_on: [order.refunded]
steps:
  - send: {template: a, category: transactional}
  - wait: {for_event: order.delivered, timeout: 10d}
  - wait: 3d
  - if: {field: order.total, op: gte, value: 10000}
    then:
      - send: {template: big, category: marketing}
    else:
      - send: {template: small, category: marketing}
""")


def start() -> RunState:
    return RunState(step=0, anchor_at=T0, started_at=T0)


def facts(total: int = 15000, **seen: list[datetime]) -> Facts:
    occurrences = {EventType(k.replace("_", ".")): v for k, v in seen.items()}
    return Facts(values={"order": {"total": total}}, occurrences=occurrences, timezone="Asia/Tokyo")


def test_sends_then_waits_for_the_delivery_up_to_ten_days() -> None:
    result = advance(start(), FLOW, facts(), T0)
    assert [s.template for s in result.sends] == ["a"]
    assert result.state.step == 1 and result.state.waiting_for is EventType.ORDER_DELIVERED
    assert result.state.wake_at == T0 + timedelta(days=10)


def test_three_days_are_counted_from_the_delivery_not_from_when_the_worker_ran() -> None:
    waiting = advance(start(), FLOW, facts(), T0).state
    delivered = T0 + timedelta(days=2)
    late_worker = delivered + timedelta(hours=5)
    result = advance(waiting, FLOW, facts(order_delivered=[delivered]), late_worker)
    assert result.state.step == 2 and result.state.wake_at == delivered + timedelta(days=3)
    done = advance(result.state, FLOW, facts(order_delivered=[delivered]), delivered + timedelta(days=3))
    assert [s.template for s in done.sends] == ["big"] and done.state.status == "done"


def test_branches_on_the_facts_at_the_moment_the_step_runs() -> None:
    waiting = advance(start(), FLOW, facts(), T0).state
    later = T0 + timedelta(days=13)
    assert [s.template for s in advance(waiting, FLOW, facts(total=500), later).sends] == ["small"]


def test_a_refund_ends_the_run_before_anything_else_is_sent() -> None:
    waiting = advance(start(), FLOW, facts(), T0).state
    result = advance(waiting, FLOW, facts(order_refunded=[T0 + timedelta(days=1)]), T0 + timedelta(days=13))
    assert result.state.status == "exited" and not result.sends
    assert result.state.outcome == "exit_on order.refunded"


def test_after_an_outage_waits_count_from_the_late_send_so_mails_do_not_bunch_up() -> None:
    late = T0 + timedelta(days=30)
    result = advance(start(), FLOW, facts(), late)
    assert [s.template for s in result.sends] == ["a"]
    assert result.state.wake_at == late + timedelta(days=10)


def test_events_before_the_run_started_do_not_count() -> None:
    waiting = advance(start(), FLOW, facts(), T0).state
    result = advance(waiting, FLOW, facts(order_delivered=[T0 - timedelta(days=1)]), T0 + timedelta(days=1))
    assert result.state.waiting_for is EventType.ORDER_DELIVERED


def test_wait_until_ten_on_a_weekend_in_the_customers_time_zone() -> None:
    # Friday 12:00 Tokyo → Saturday 10:00 Tokyo = Saturday 01:00 UTC
    assert next_time_of_day(T0, 10, 0, (5, 6), "Asia/Tokyo") == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    # any day, already past 10:00 today → tomorrow
    assert next_time_of_day(T0, 10, 0, (), "Asia/Tokyo") == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    assert next_time_of_day(T0, 18, 30, (), "Asia/Tokyo") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


REMINDER = parse_flow("""\
id: replenish
trigger: order.delivered
steps:
  - wait: {until_date: prediction.predicted_next_order, offset: -5d, otherwise: 30d}
  - send: {template: reminder, category: marketing}
""")


def test_waits_until_five_days_before_the_predicted_next_order() -> None:
    predicted = T0 + timedelta(days=40)
    values = {"prediction": {"predicted_next_order": predicted}}
    waiting = advance(start(), REMINDER, Facts(values=values), T0)
    assert waiting.state.wake_at == predicted - timedelta(days=5) and not waiting.sends
    due = advance(waiting.state, REMINDER, Facts(values=values), predicted - timedelta(days=5))
    assert [s.template for s in due.sends] == ["reminder"]


def test_without_a_prediction_the_fallback_wait_counts_from_the_anchor() -> None:
    assert advance(start(), REMINDER, Facts(values={}), T0).state.wake_at == T0 + timedelta(days=30)
    # a predicted date already past: the message goes now, not never
    past = Facts(values={"prediction": {"predicted_next_order": "2026-11-01"}}, timezone="Asia/Tokyo")
    assert [s.template for s in advance(start(), REMINDER, past, T0).sends] == ["reminder"]


def test_a_bad_until_date_is_refused_with_its_place() -> None:
    import pytest

    from afterorder.flows.spec import FlowError

    with pytest.raises(FlowError, match=r"steps\[0\]\.wait\.until_date: 'prediction\.next' is not a prediction field"):
        parse_flow("id: x\ntrigger: order.placed\nsteps:\n  - wait: {until_date: prediction.next}\n"
                   "  - send: {template: a, category: marketing}\n")


# Facts.occurrences_only: what the scheduler's wake advances a run on (no order, no customer read)

def test_a_wait_that_times_out_into_another_wait_needs_only_the_occurrences() -> None:
    sent = advance(start(), FLOW, facts(), T0).state  # waiting for the delivery, at most ten days
    later = T0 + timedelta(days=10)
    lean = advance(sent, FLOW, Facts.occurrences_only({}), later)
    assert lean == advance(sent, FLOW, facts(), later), "the same advance as with every fact"
    assert lean.state.step == 2 and lean.state.wake_at == T0 + timedelta(days=13)
    assert [e.kind for e in lean.log] == ["timeout"]


def test_an_exit_event_ends_a_run_woken_on_its_occurrences_alone() -> None:
    sent = advance(start(), FLOW, facts(), T0).state
    refunded = Facts.occurrences_only({EventType.ORDER_REFUNDED: [T0 + timedelta(days=1)]})
    result = advance(sent, FLOW, refunded, T0 + timedelta(days=10))
    assert result.state.status == "exited" and result.state.outcome == "exit_on order.refunded"


def test_a_condition_asks_for_the_facts_it_was_not_given() -> None:
    sent = advance(start(), FLOW, facts(), T0).state
    with pytest.raises(FactsNeeded):  # the if: after the three days looks at the order's total
        advance(sent, FLOW, Facts.occurrences_only({}), T0 + timedelta(days=13))
    assert advance(sent, FLOW, facts(), T0 + timedelta(days=13)).sends, "with the facts it goes on"


def test_a_time_of_day_or_a_date_field_asks_for_the_facts_too() -> None:
    at_nine = parse_flow("id: g\ntrigger: order.placed\nsteps:\n  - wait: {until: '09:00'}\n"
                         "  - send: {template: a, category: marketing}\n")
    on_date = parse_flow("id: h\ntrigger: order.placed\nsteps:\n"
                         "  - wait: {until_date: order.delivered_at, offset: 1d}\n"
                         "  - send: {template: a, category: marketing}\n")
    for flow in (at_nine, on_date):
        with pytest.raises(FactsNeeded):
            advance(start(), flow, Facts.occurrences_only({}), T0)


def test_the_events_a_flow_looks_at_are_its_exits_and_what_it_waits_for() -> None:
    assert events_looked_at(FLOW) == {EventType.ORDER_REFUNDED, EventType.ORDER_DELIVERED}
    sent = advance(start(), FLOW, facts(), T0).state
    later = T0 + timedelta(days=2)  # delivered a day ago: two more days to wait
    everything = facts(order_delivered=[T0 + timedelta(days=1)], order_placed=[T0], order_shipped=[T0]).occurrences
    only = {k: v for k, v in everything.items() if k in events_looked_at(FLOW)}
    woken = advance(sent, FLOW, Facts.occurrences_only(only), later)
    assert woken == advance(sent, FLOW, Facts.occurrences_only(everything), later)
    assert woken.state.wake_at == T0 + timedelta(days=4)

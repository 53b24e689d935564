"""The flow engine: ``advance(run, flow, facts, now) -> Advance``.  Pure: no I/O, no clock.

A run is a position (``step``) in the flow's compiled program plus an ``anchor``: the moment
the previous step finished, from which the next wait is measured.  ``advance`` executes
instructions until the run has to wait or ends, and returns what to do (send messages) and
the run's new state.  The scheduler applies that in one transaction.

``Facts.occurrences_only`` are facts that know only what happened to the subject (its events): a
step that looks at anything else (a condition, a date field, the timezone) raises ``FactsNeeded``,
so the scheduler can advance a run that only waits (a wait that times out into another wait) without
reading its order and customer, and read them only for the runs that ask.  With the same
occurrences, an advance that does not raise is the one full facts would give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from afterorder.domain import EventType
from afterorder.flows.conditions import evaluate, lookup
from afterorder.flows.spec import Branch, Exit, FlowSpec, Jump, Send, WaitEvent, WaitFor, WaitUntil, WaitUntilDate

Status = Literal["waiting", "done", "exited", "failed"]
MAX_INSTRUCTIONS = 10_000


@dataclass(frozen=True)
class RunState:
    step: int
    anchor_at: datetime
    started_at: datetime
    status: Status = "waiting"
    wake_at: datetime | None = None
    waiting_for: EventType | None = None
    outcome: str | None = None


class FactsNeeded(Exception):
    """The step needs more than the run's occurrences (``Facts.occurrences_only``)."""


@dataclass(frozen=True)
class Facts:
    """What the engine may know about a run's subject, snapshot at the moment it runs."""

    values: Mapping[str, Any]  # event / customer / order / store dicts, for conditions
    occurrences: Mapping[EventType, Sequence[datetime]] = field(default_factory=dict)
    timezone: str = "UTC"
    partial: bool = False  # only the occurrences are known: ``values`` and ``timezone`` are not

    @classmethod
    def occurrences_only(cls, occurrences: Mapping[EventType, Sequence[datetime]]) -> Facts:
        return cls(values={}, occurrences=occurrences, partial=True)

    def known(self, step: int) -> Facts:
        """These facts, if they know more than the occurrences; else ``FactsNeeded`` for ``step``."""
        if self.partial:
            raise FactsNeeded(step)
        return self

    def first_since(self, event: EventType, since: datetime, *, strictly: bool = False) -> datetime | None:
        times = [t for t in self.occurrences.get(event, ()) if t > since or (t == since and not strictly)]
        return min(times) if times else None


@dataclass(frozen=True)
class SendDecision:
    step: int
    template: str
    category: str
    channels: tuple[str, ...]  # the step's channels in order; empty: the store's order (transactional) or email
    promotion: Send | None = None  # the step, when it asks for a coupon, recommendations or params


@dataclass(frozen=True)
class StepLog:
    step: int
    kind: str
    detail: str


@dataclass(frozen=True)
class Advance:
    state: RunState
    sends: tuple[SendDecision, ...]
    log: tuple[StepLog, ...]


def as_moment(value: object, tz: str) -> datetime | None:
    """A date or time from the facts: an aware datetime, a date (midnight in ``tz``) or ISO text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(tz))
    if isinstance(value, date):
        return datetime.combine(value, time(0), ZoneInfo(tz))
    return None


def next_time_of_day(after: datetime, at_hour: int, at_minute: int, weekdays: Sequence[int], tz: str) -> datetime:
    """The first moment strictly after ``after`` that is ``HH:MM`` local time on an allowed weekday."""
    zone = ZoneInfo(tz)
    local = after.astimezone(zone)
    candidate_day = local.date()
    for _ in range(15):
        naive = datetime(candidate_day.year, candidate_day.month, candidate_day.day, at_hour, at_minute)
        candidate = naive.replace(tzinfo=zone)
        if candidate > after and (not weekdays or candidate.weekday() in weekdays):
            return candidate.astimezone(after.tzinfo)
        candidate_day += timedelta(days=1)
    raise AssertionError("no matching day within two weeks")  # unreachable: weekdays is non-empty subset


def events_looked_at(flow: FlowSpec) -> frozenset[EventType]:
    """The only event types ``advance`` looks up in the occurrences for a run of ``flow``: its exits
    and the events its steps wait for."""
    return frozenset(flow.exit_on) | {i.event for i in flow.program if isinstance(i, WaitEvent)}


def advance(run: RunState, flow: FlowSpec, facts: Facts, now: datetime) -> Advance:
    sends: list[SendDecision] = []
    log: list[StepLog] = []
    state = replace(run, wake_at=None, waiting_for=None)

    if state.status != "waiting":
        return Advance(state, (), ())
    for event in flow.exit_on:
        # a flow that exits on its own trigger (win-back: exit_on order.placed) exits on the NEXT one
        seen = facts.first_since(event, run.started_at, strictly=event == flow.trigger.event)
        if seen is not None and seen <= now:
            log.append(StepLog(state.step, "exited", f"{event.value} happened"))
            return Advance(replace(state, status="exited", outcome=f"exit_on {event.value}"), (), tuple(log))

    for _ in range(MAX_INSTRUCTIONS):
        if state.step >= len(flow.program):
            log.append(StepLog(state.step, "done", "reached the end"))
            return Advance(replace(state, status="done", outcome="completed"), tuple(sends), tuple(log))
        instruction = flow.program[state.step]
        if isinstance(instruction, Send):
            asks = instruction.coupon is not None or instruction.recommendations or instruction.params
            sends.append(SendDecision(state.step, instruction.template, instruction.category, instruction.channels,
                                      instruction if asks else None))
            log.append(StepLog(state.step, "send", instruction.template))
            state = replace(state, step=state.step + 1, anchor_at=max(state.anchor_at, now))
        elif isinstance(instruction, WaitFor | WaitUntil):
            if isinstance(instruction, WaitFor):
                target = state.anchor_at + instruction.duration
            else:
                target = next_time_of_day(state.anchor_at, instruction.at.hour, instruction.at.minute,
                                          instruction.weekdays, facts.known(state.step).timezone)
            if target > now:
                return Advance(replace(state, wake_at=target), tuple(sends), tuple(log))
            state = replace(state, step=state.step + 1, anchor_at=target)
        elif isinstance(instruction, WaitUntilDate):
            known = facts.known(state.step)
            moment = as_moment(lookup(known.values, instruction.field), known.timezone)
            if moment is None and instruction.fallback is None:
                log.append(StepLog(state.step, "skipped", f"no {instruction.field}; going straight on"))
                state = replace(state, step=state.step + 1)
                continue
            target = (moment + instruction.offset if moment is not None
                      else state.anchor_at + (instruction.fallback or timedelta(0)))
            if target > now:
                return Advance(replace(state, wake_at=target), tuple(sends), tuple(log))
            state = replace(state, step=state.step + 1, anchor_at=max(state.anchor_at, min(target, now)))
        elif isinstance(instruction, WaitEvent):
            seen = facts.first_since(instruction.event, run.started_at)
            deadline = state.anchor_at + instruction.timeout
            if seen is not None and seen <= now:
                log.append(StepLog(state.step, "event", instruction.event.value))
                state = replace(state, step=state.step + 1, anchor_at=max(seen, state.anchor_at))
            elif now >= deadline:
                if instruction.on_timeout == "exit":
                    log.append(StepLog(state.step, "exited", f"no {instruction.event.value} in time"))
                    return Advance(replace(state, status="exited", outcome=f"timeout {instruction.event.value}"),
                                   tuple(sends), tuple(log))
                log.append(StepLog(state.step, "timeout", f"no {instruction.event.value}; continuing"))
                state = replace(state, step=state.step + 1, anchor_at=deadline)
            else:
                return Advance(replace(state, wake_at=deadline, waiting_for=instruction.event),
                               tuple(sends), tuple(log))
        elif isinstance(instruction, Branch):
            taken = evaluate(instruction.condition, facts.known(state.step).values, now)
            log.append(StepLog(state.step, "if", "then" if taken else "else"))
            state = replace(state, step=state.step + 1 if taken else instruction.otherwise)
        elif isinstance(instruction, Jump):
            state = replace(state, step=instruction.target)
        else:
            assert isinstance(instruction, Exit)
            log.append(StepLog(state.step, "exited", instruction.reason))
            return Advance(replace(state, status="exited", outcome=instruction.reason), tuple(sends), tuple(log))
    return Advance(replace(state, status="failed", outcome="too many steps without a wait"), tuple(sends),
                   tuple(log))

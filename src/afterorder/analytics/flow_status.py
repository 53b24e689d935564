"""Where each flow's runs are: how many wait at each step, how many messages each send step sent,
skipped (and why) or holds back for quiet hours, and how runs ended."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import flow_runs, outbox
from afterorder.flows.spec import (
    Branch,
    Exit,
    FlowSpec,
    Instruction,
    Jump,
    Send,
    WaitEvent,
    WaitFor,
    WaitUntil,
    WaitUntilDate,
)

QUIET_HOURS = "deferred: quiet hours"


@dataclass
class StepStatus:
    index: int
    kind: str  # send | wait | if | go to | exit
    text: str
    waiting: int = 0
    sent: int = 0
    queued: int = 0
    deferred: int = 0  # held back until the customer's quiet hours end
    skipped: dict[str, int] = field(default_factory=dict)  # reason → messages


@dataclass
class FlowStatus:
    spec: FlowSpec
    enabled: bool
    steps: list[StepStatus]
    runs: dict[str, int]  # status → runs
    endings: dict[str, int]  # outcome of finished runs → runs

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.steps)

    @property
    def skipped(self) -> int:
        return sum(sum(s.skipped.values()) for s in self.steps)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def describe(instruction: Instruction) -> tuple[str, str]:
    """(kind, what the step does) for the diagram."""
    match instruction:
        case Send():
            channels = (" or ".join(instruction.channels) if instruction.channels
                        else "the store's channel order" if instruction.category == "transactional" else "email")
            return "send", f"send {instruction.template} ({instruction.category}, {channels})"
        case WaitFor():
            return "wait", f"wait {_duration(instruction.duration.total_seconds())}"
        case WaitUntil():
            return "wait", f"wait until {instruction.at.strftime('%H:%M')}"
        case WaitUntilDate():
            return "wait", f"wait until {instruction.field} {instruction.label}"
        case WaitEvent():
            return "wait", (f"wait for {instruction.event.value} (at most "
                            f"{_duration(instruction.timeout.total_seconds())}, then {instruction.on_timeout})")
        case Branch():
            return "if", f"if {instruction.label} (else step {instruction.otherwise + 1})"
        case Jump():
            return "go to", f"go to step {instruction.target + 1}"
        case Exit():
            return "exit", f"exit: {instruction.reason}"
    return "step", instruction.label


def _step(key: str) -> int | None:
    parts = key.split(":")
    return int(parts[3]) if len(parts) == 4 and parts[2] == "step" and parts[3].isdigit() else None


async def flow_statuses(conn: AsyncConnection, store_id: int, flows: list[tuple[FlowSpec, bool]]) -> list[FlowStatus]:
    """Status of each (flow, enabled) of a store, in the order given."""
    waiting: dict[str, dict[int, int]] = defaultdict(dict)
    runs: dict[str, dict[str, int]] = defaultdict(dict)
    endings: dict[str, dict[str, int]] = defaultdict(dict)
    grouped = await conn.execute(
        select(flow_runs.c.flow_id, flow_runs.c.status, flow_runs.c.step, flow_runs.c.outcome,
               func.count().label("n"))
        .where(flow_runs.c.store_id == store_id)
        .group_by(flow_runs.c.flow_id, flow_runs.c.status, flow_runs.c.step, flow_runs.c.outcome))
    for r in grouped:
        runs[r.flow_id][r.status] = runs[r.flow_id].get(r.status, 0) + r.n
        if r.status == "waiting":
            waiting[r.flow_id][r.step] = waiting[r.flow_id].get(r.step, 0) + r.n
        elif r.outcome:
            endings[r.flow_id][r.outcome] = endings[r.flow_id].get(r.outcome, 0) + r.n
    messages = await conn.execute(
        select(flow_runs.c.flow_id, outbox.c.idempotency_key, outbox.c.status, outbox.c.last_error)
        .select_from(outbox.join(flow_runs, flow_runs.c.id == outbox.c.run_id))
        .where(outbox.c.store_id == store_id))
    sends: dict[tuple[str, int], list[tuple[str, str | None]]] = defaultdict(list)
    for m in messages:
        step = _step(m.idempotency_key)
        if step is not None:
            sends[(m.flow_id, step)].append((m.status, m.last_error))
    found = []
    for spec, enabled in flows:
        steps = []
        for index, instruction in enumerate(spec.program):
            kind, text = describe(instruction)
            status = StepStatus(index, kind, text, waiting=waiting[spec.id].get(index, 0))
            for state, error in sends.get((spec.id, index), []):
                if state == "sent":
                    status.sent += 1
                elif state == "skipped":
                    reason = (error or "unknown").split(";")[0].strip()
                    status.skipped[reason] = status.skipped.get(reason, 0) + 1
                elif state in ("queued", "sending"):
                    if (error or "").startswith(QUIET_HOURS):
                        status.deferred += 1
                    else:
                        status.queued += 1
            steps.append(status)
        found.append(FlowStatus(spec, enabled, steps, runs.get(spec.id, {}), endings.get(spec.id, {})))
    return found

"""Which due runs the scheduler takes first: those whose next message is transactional.

A run's ``priority`` (``flow_runs.priority``) is set whenever it is written — started by an event,
moved by the scheduler — from its flow: :data:`FIRST` when the next message it will send from its
current step is transactional (an order confirmation, a shipping notice), :data:`LATER` otherwise
(marketing, or nothing more to send).  The scheduler claims every store's due ``FIRST`` runs before
any other, so no store's campaign of a hundred thousand runs holds up another store's order
confirmation.  "Next" is read straight down the flow's program from the step (a branch may jump
past that send: then the run is merely early, never late).
"""

from __future__ import annotations

from typing import Final

from afterorder.flows.spec import FlowSpec, Send

FIRST: Final = 0
LATER: Final = 1


def priority(spec: FlowSpec, step: int) -> int:
    """``FIRST`` if the first message at or after ``step`` of ``spec`` is transactional."""
    for instruction in spec.program[step:]:
        if isinstance(instruction, Send):
            return FIRST if instruction.category == "transactional" else LATER
    return LATER

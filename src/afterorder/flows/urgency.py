"""Which due runs the scheduler takes first: those whose next message is transactional.

A run's ``priority`` (``flow_runs.priority``) is set whenever it is written — started by an event,
moved by the scheduler — from its flow: :data:`FIRST` when the next message it will send from its
current step is transactional (an order confirmation, a shipping notice), :data:`LATER` otherwise
(marketing, or nothing more to send).  The scheduler claims every store's due ``FIRST`` runs before
any other, so no store's campaign of a hundred thousand runs holds up another store's order
confirmation.  "Next" is read straight down the flow's program from the step (a branch may jump
past that send: then the run is merely early, never late).

A run due at a wait is due because that wait ended: what it does now starts after it.  When the
program from there reaches another wait before any send, with no branch or jump between, this wake
sends nothing (the delivery follow-up's wait for the delivery that times out into ``wait: 3d``): it
is ``LATER``, so a million such runs coming due together do not hold up a new order's confirmation.
(Only if that next wait has also passed already, the scheduler having been stopped for days, does
the run send at once; it is then one claim late, never lost.)
"""

from __future__ import annotations

from typing import Final

from afterorder.flows.spec import Branch, FlowSpec, Jump, Send, WaitEvent, WaitFor, WaitUntil, WaitUntilDate

FIRST: Final = 0
LATER: Final = 1


_WAITS = (WaitFor, WaitUntil, WaitUntilDate, WaitEvent)


def priority(spec: FlowSpec, step: int) -> int:
    """``FIRST`` if the first message at or after ``step`` of ``spec`` is transactional; ``LATER`` if the
    run, woken at the wait ``step``, waits again before any send (see the module's docstring)."""
    program = spec.program
    start = step + 1 if step < len(program) and isinstance(program[step], _WAITS) else step
    straight = True  # no branch or jump yet: the program is read as the run will go
    for instruction in program[start:]:
        if isinstance(instruction, Send):
            return FIRST if instruction.category == "transactional" else LATER
        if isinstance(instruction, Branch | Jump):
            straight = False
        elif straight and isinstance(instruction, _WAITS):
            return LATER
    return LATER

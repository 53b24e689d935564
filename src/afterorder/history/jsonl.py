"""JSON lines: one event per line, exactly as ``POST /api/v1/events`` takes it (the ``Event`` shape).
The events' own ids make a second run store nothing; a line past a limit of ``intake.limits`` is
rejected naming the field, as the API would refuse it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from pydantic import ValidationError

from afterorder.domain import Event
from afterorder.history.orders import problem
from afterorder.history.records import Context, Record, Rejected
from afterorder.intake.horizon import ahead_problems
from afterorder.intake.limits import Refused, read_json


def events(source: TextIO, ctx: Context) -> Iterator[Record | Rejected]:
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            raw = read_json(line.encode())
        except Refused as exc:
            yield Rejected(number, f"not JSON: {exc.cause}" if exc.code == "invalid_json" else str(exc))
            continue
        try:
            event = Event.model_validate(raw)
        except ValidationError as exc:
            yield Rejected(number, problem(exc))
            continue
        ahead = ahead_problems(event, ctx.now)
        if ahead:
            yield Rejected(number, "; ".join(f"{d['field']}: {d['message']}" for d in ahead))
            continue
        yield Record(number, [event], [raw])

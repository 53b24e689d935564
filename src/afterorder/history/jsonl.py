"""JSON lines: one event per line, exactly as ``POST /api/v1/events`` takes it (the ``Event`` shape).
The events' own ids make a second run store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TextIO

from pydantic import ValidationError

from afterorder.domain import Event
from afterorder.history.orders import problem
from afterorder.history.records import Context, Record, Rejected


def events(source: TextIO, ctx: Context) -> Iterator[Record | Rejected]:
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Rejected(number, f"not JSON: {exc}")
            continue
        try:
            event = Event.model_validate(raw)
        except ValidationError as exc:
            yield Rejected(number, problem(exc))
            continue
        yield Record(number, [event], [raw])

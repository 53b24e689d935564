"""What a parser yields for each record of a file: the events it stands for, or why it was rejected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from afterorder.domain import Event


@dataclass(slots=True)
class Record:
    """One order, customer or product of the file (an order may span several rows) as events."""

    row: int  # the record's first row, counting the header as row 1 (as a spreadsheet does)
    events: list[Event]
    raw: list[Any]  # what is kept beside each event


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int
    reason: str


@dataclass(frozen=True)
class Context:
    """What parsing needs to know about the store and the run."""

    file: str  # the file's name, kept in each event's raw record
    timezone: tzinfo  # times written without an offset are the store's local time
    currency: str  # the store's currency, when a file names none
    now: datetime  # when a record has no time of its own (a customer, a product)

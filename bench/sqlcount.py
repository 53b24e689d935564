"""Counts the SQL statements an engine runs and the wall time spent inside them (a listener on the
engine, no change to afterorder), so a phase can report statements per event."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class SqlTally:
    statements: int
    seconds: float  # wall time between before_ and after_cursor_execute, round trip included


class SqlCounter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = 0
        self.seconds = 0.0
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any,
                _executemany: bool) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any,
               _executemany: bool) -> None:
        started = conn.info.get("bench_started")
        if started:
            self.seconds += time.perf_counter() - started.pop()
        self.statements += 1

    def take(self) -> SqlTally:
        """What ran since the last ``take``."""
        tally = SqlTally(self.statements, self.seconds)
        self.statements, self.seconds = 0, 0.0
        return tally

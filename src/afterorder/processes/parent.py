"""A worker that ``serve --workers N`` started stops when ``serve`` is gone.

``serve`` stops its workers itself when it is asked to stop (SIGTERM, SIGINT).  When it cannot (it was
killed with SIGKILL, or crashed), its workers used to run on as orphans: a supervisor that then
started ``serve`` again ran twice the workers, and a terminal session left processes behind.  Each
worker ``serve`` starts is told its parent's pid (:data:`PARENT_ENV`); the worker watches for its
parent to change (an orphan is adopted by init or a subreaper) and then stops exactly as it does on
SIGTERM: no new claims, what is in flight finished or released, one log line, exit 0.  A worker
started on its own (``afterorder worker`` by an operator) has no such parent and is never stopped so.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)
PARENT_ENV = "AFTERORDER_PARENT_PID"
CHECK_SECONDS = 1.0


def parent_of(environ: Mapping[str, str]) -> int | None:
    """The pid of the ``serve`` that started this process, if it did."""
    value = environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() else None


async def stop_when_orphaned(parent: int, stop: asyncio.Event, every: float = CHECK_SECONDS) -> None:
    """Set ``stop`` once this process's parent is no longer ``parent``; returns when ``stop`` is set."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("serve (pid %d) is gone; this worker stops", parent)
            stop.set()
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass

"""A database that went away, told apart from a statement that failed.

PostgreSQL restarted, failed over or not accepting connections yet; a connection cut in the middle
of a statement; the server refusing connections: none of these is the fault of the run, message or
event being handled, and none is news worth a traceback.  :func:`database_lost` recognises them
(SQLAlchemy's disconnect flag, asyncpg's connection and operator-intervention errors, the socket's
own errors), looking through the chain of causes; everything else is a real failure and keeps its
traceback where it is logged.

:class:`Outage` is what one process says about it: one log line when the database is lost ("lost;
retrying in 0.5 s"), then one a minute while it stays lost, one when it is back ("reachable again
after 3.2 s"), and the wait before the next try, doubling from ``first`` up to ``longest`` seconds.  The worker
loops share one per process (``Runtime``), so a restart of PostgreSQL is two lines in each log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import asyncpg.exceptions as pg
from sqlalchemy.exc import DBAPIError

_LOST = (pg.PostgresConnectionError, pg.CannotConnectNowError, pg.AdminShutdownError, pg.CrashShutdownError,
         pg.InterfaceError, ConnectionError, TimeoutError)


def database_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached or cut us off."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, DBAPIError) and found.connection_invalidated:
            return True
        if isinstance(found, _LOST):
            return True
        found = found.__cause__ or found.__context__
    return False


def describe(exc: BaseException) -> str:
    """The innermost cause's name and first line: what the database or the socket said."""
    inner = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


class Outage:
    """One process's view of its database being away: log lines and backoff (see the module doc)."""

    def __init__(self, log: logging.Logger, *, first: float = 0.5, longest: float = 10.0, remind: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.first = first
        self.longest = longest
        self.remind = remind
        self._clock = clock
        self._since: float | None = None
        self._said = 0.0  # when the last line about it was logged
        self._wait = first

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def lost(self, exc: BaseException) -> float:
        """Note the loss (logged the first time); the seconds to wait before trying again."""
        now = self._clock()
        if self._since is None:
            self._since = self._said = now
            self._wait = self.first
            self.log.warning("the database is unreachable (%s); retrying every %g-%g s", describe(exc), self.first,
                             self.longest)
            return self._wait
        if now - self._said >= self.remind:
            self._said = now
            self.log.warning("the database is still unreachable after %.0f s (%s)", now - self._since, describe(exc))
        self._wait = min(self._wait * 2, self.longest)
        return self._wait

    def back(self) -> None:
        """A step worked: if the database had been lost, say it is back."""
        if self._since is not None:
            self.log.warning("the database is reachable again after %.1f s", self._clock() - self._since)
            self._since = None

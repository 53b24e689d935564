"""Keeping under a provider's limit: a token bucket per store and provider, in messages per second.

``reserve()`` takes the next slot and says how long to wait for it (0 when one is free now), so a
sender waits instead of being refused; ``pause(seconds)`` is what a provider's ``Retry-After``
does: nothing goes out through this bucket until then, and after it the slots start again one
``1/rate`` apart (no burst of everything that waited).  By default there is no burst at all, so
no second ever holds more than ``rate`` sends (give or take the one on its edge).
Time is the event loop's monotonic clock, injected for tests.

The rate holds per process: with several workers sending for one store, give each its share.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class _Pausable:
    """What every bucket does with a provider's ``Retry-After``: nothing goes out until it has passed."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Nothing goes out for ``seconds`` (a provider's Retry-After); a longer pause wins."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))

    @property
    def paused_for(self) -> float:
        return max(self._paused_until - self._clock(), 0.0)


class TokenBucket(_Pausable):
    """Virtual scheduling (GCRA): each reservation is given the next free slot, ``1/rate`` seconds
    after the one before; up to ``burst`` slots may fall at the same moment after a quiet spell."""

    def __init__(self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.interval = 1.0 / rate
        self._tolerance = (burst - 1) * self.interval
        super().__init__(clock=clock)
        self._next = clock()  # the theoretical time of the next slot

    def reserve(self) -> float:
        """Take the next slot; the seconds to wait before using it."""
        now = self._clock()
        start = max(now, self._paused_until)
        due = max(self._next, start)
        at = max(start, due - self._tolerance)
        self._next = due + self.interval
        return at - now

    def give_back(self) -> None:
        """Return the last slot taken by ``reserve`` (its message went back to the queue unsent)."""
        self._next -= self.interval


class Unlimited(_Pausable):
    """The bucket of a provider with no rate set: never waits, but still pauses on Retry-After."""

    def reserve(self) -> float:
        return self.paused_for

    def give_back(self) -> None:
        return None


Bucket = TokenBucket | Unlimited

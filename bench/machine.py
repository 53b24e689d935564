"""How fast and how busy this machine is right now, printed beside every figure of a bench run."""

from __future__ import annotations

import os
import time


def reference_loop_seconds() -> float:
    """How fast this machine runs plain Python right now: 10 million additions, best of three.

    This VM's speed varies (2x within an hour has been seen), so figures from different runs are
    compared together with this."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 2)


def load() -> float:
    """The one-minute load average (0 where the system does not tell)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0

"""Nearest-rank percentiles over a run's events, where an event whose mail never came counts as
slower than the window waited (the percentile is then a lower bound, marked as such)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Percentile:
    seconds: float
    lower_bound: bool  # True: that share of events had no mail by the end of the window

    def as_json(self) -> dict[str, Any]:
        return {"ms": round(self.seconds * 1000, 1), "lower_bound": self.lower_bound}


def percentile(values: list[float], total: int, share: float, window: float) -> Percentile | None:
    """Nearest-rank percentile over ``total`` events of which ``values`` (sorted) arrived."""
    if total == 0:
        return None
    rank = max(1, math.ceil(share * total))
    if rank <= len(values):
        return Percentile(values[rank - 1], False)
    return Percentile(window, True)


def rank_ms(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of sorted ``values`` (seconds) in ms, None when there are none."""
    if not values:
        return None
    return round(values[max(1, math.ceil(share * len(values))) - 1] * 1000, 1)

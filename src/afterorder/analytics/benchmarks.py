"""Industry benchmarks for post-purchase flows: open, click and placed-order rates (per cent of
recipients), from Klaviyo's post-purchase flow benchmark report, by the store's industry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from afterorder.domain import Industry


@dataclass(frozen=True)
class Benchmark:
    industry: Industry
    open_rate: float
    click_rate: float
    order_rate: float


POST_PURCHASE: Final[dict[str, Benchmark]] = {b.industry: b for b in (
    Benchmark(Industry.APPAREL, 62.64, 3.87, 0.60),
    Benchmark(Industry.AUTOMOTIVE, 63.16, 5.33, 0.70),
    Benchmark(Industry.ELECTRONICS, 62.09, 5.24, 0.53),
    Benchmark(Industry.FOOD, 61.18, 3.85, 0.63),
    Benchmark(Industry.HARDWARE, 61.76, 4.66, 0.63),
    Benchmark(Industry.HEALTH, 58.67, 3.25, 0.43),
    Benchmark(Industry.HOME, 64.26, 4.58, 0.53),
    Benchmark(Industry.JEWELRY, 63.51, 4.38, 0.55),
    Benchmark(Industry.OFFICE, 60.54, 3.19, 0.43),
    Benchmark(Industry.SPORTS, 64.44, 5.15, 0.66),
    Benchmark(Industry.TOYS, 61.97, 4.36, 0.53),
)}


def compare(value: float | None, benchmark: float) -> str:
    """``above``, ``below`` or ``equal``; ``none`` when there is nothing to compare yet."""
    if value is None:
        return "none"
    return "above" if value > benchmark else "below" if value < benchmark else "equal"

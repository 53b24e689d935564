"""Industry benchmarks for post-purchase flows: open, click and placed-order rates (per cent of
recipients), from Klaviyo's post-purchase flow benchmark report, by the store's industry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Benchmark:
    industry: str
    open_rate: float
    click_rate: float
    order_rate: float


POST_PURCHASE: Final[dict[str, Benchmark]] = {b.industry: b for b in (
    Benchmark("apparel & accessories", 62.64, 3.87, 0.60),
    Benchmark("automotive", 63.16, 5.33, 0.70),
    Benchmark("electronics", 62.09, 5.24, 0.53),
    Benchmark("food & beverage", 61.18, 3.85, 0.63),
    Benchmark("hardware & home improvement", 61.76, 4.66, 0.63),
    Benchmark("health & beauty", 58.67, 3.25, 0.43),
    Benchmark("home & garden", 64.26, 4.58, 0.53),
    Benchmark("jewelry", 63.51, 4.38, 0.55),
    Benchmark("office supplies", 60.54, 3.19, 0.43),
    Benchmark("sporting goods", 64.44, 5.15, 0.66),
    Benchmark("toys & hobbies", 61.97, 4.36, 0.53),
)}
INDUSTRIES: Final = tuple(POST_PURCHASE)


class IndustryError(ValueError):
    pass


def check_industry(industry: str) -> str:
    name = industry.strip().lower()
    if name not in POST_PURCHASE:
        raise IndustryError(f"industry: {industry!r} is not one of: {', '.join(INDUSTRIES)}")
    return name


def compare(value: float | None, benchmark: float) -> str:
    """``above``, ``below`` or ``equal``; ``none`` when there is nothing to compare yet."""
    if value is None:
        return "none"
    return "above" if value > benchmark else "below" if value < benchmark else "equal"

"""The figures of the previous release beside this run's, as ratios (now ÷ then).

``bench/previous-release.json`` is the JSON a release's ``make bench`` wrote (``bench/results/latest.json``),
committed with that release: a release copies its run over it.  Each headline figure of this run is
printed next to that one with the ratio; a figure either run lacks is shown as "–".  Lower is better
for times and CPU, higher for rates: the label says which.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

PREVIOUS = Path(__file__).resolve().parent / "previous-release.json"

Getter = Callable[[dict[str, Any]], float | None]


def _get(*path: str) -> Getter:
    def get(figures: dict[str, Any]) -> float | None:
        value: Any = figures
        for key in path:
            if not isinstance(value, dict) or value.get(key) is None:
                return None
            value = value[key]
        return float(value) if isinstance(value, int | float) else None
    return get


HEADLINES: tuple[tuple[str, Getter], ...] = (
    ("event→SMTP p50, ms (lower is better)", _get("latency", "p50", "ms")),
    ("event→SMTP p99, ms (lower is better)", _get("latency", "p99", "ms")),
    ("serve CPU per event, ms (lower)", _get("latency", "serve_cpu_ms_per_event")),
    ("burst mails/s (higher is better)", _get("burst", "mails_per_second")),
    ("batch API events/s (higher)", _get("burst", "accepted_per_second")),
    ("runs/s when all come due (higher)", _get("sleeping", "runs_per_second")),
    ("delivery emails/s (higher)", _get("throughput", "deliver", "per_second")),
)


def load(path: Path = PREVIOUS) -> dict[str, Any] | None:
    """The previous release's figures, or None when there are none (or they cannot be read)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("backends"), dict) else None


def cell(now: float | None, then: float | None) -> str:
    """``now ← then (×ratio)``, or what is missing."""
    def shown(value: float) -> str:
        return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"

    if now is None or then is None or then == 0:
        return "–" if now is None else f"{shown(now)} (no previous)"
    return f"{shown(now)} ← {shown(then)} (×{now / then:.2f})"


def comparison(current: dict[str, Any], previous: dict[str, Any] | None, backends: tuple[str, ...]) -> list[str]:
    """Lines comparing ``current`` (this run's JSON) with ``previous``, per backend."""
    if previous is None:
        return [f"previous release: none to compare with ({PREVIOUS.name} is missing)"]
    lines = [f"against the previous release ({previous.get('date', '?')}; {PREVIOUS.name}): now ← then (now ÷ then)"]
    for label, get in HEADLINES:
        cells = []
        for name in backends:
            now = (current.get("backends") or {}).get(name) or {}
            then = (previous.get("backends") or {}).get(name) or {}
            cells.append(f"{cell(get(now), get(then)):<30}")
        lines.append(f"  {label:<40}" + "".join(cells))
    return lines

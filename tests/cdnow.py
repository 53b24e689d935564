"""The CDNOW sample (../shared/datasets/cdnow/, copied to tests/fixtures) as purchases and as store events."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).parent / "fixtures" / "cdnow_sample.txt"

# Published estimates on the sample, 39-week calibration period ending 1997-09-30 (see the dataset README).
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CALIBRATION_END = date(1997, 9, 30)


def purchases() -> dict[str, list[tuple[date, float]]]:
    """customer id → [(day, dollar value)] for every line of the sample."""
    by_customer: dict[str, list[tuple[date, float]]] = {}
    for line in SAMPLE.read_text().splitlines():
        _, customer, day, _cds, value = line.split()
        by_customer.setdefault(customer, []).append((date(int(day[:4]), int(day[4:6]), int(day[6:])), float(value)))
    return by_customer


def order_events() -> list[dict[str, Any]]:
    """Each purchase as an ``order.placed`` event of a US store (times at noon UTC)."""
    events = []
    for customer, bought in purchases().items():
        for n, (day, value) in enumerate(bought):
            order_id = f"{customer}-{n}"
            events.append({
                "id": f"placed:{order_id}", "type": "order.placed", "occurred_at": f"{day.isoformat()}T12:00:00+00:00",
                "customer": {"id": f"c{customer}", "email": f"c{customer}@cdnow.example"},
                "order": {"id": order_id, "currency": "USD", "total": f"{value:.2f}",
                          "lines": [{"title": "CD", "quantity": 1, "price": f"{value:.2f}"}]},
            })
    return events

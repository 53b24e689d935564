"""Retention metrics and product cycles on a hand-built history (tests/retention_history.py), both databases.

Every expected figure below is worked out by hand from the history's comments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from afterorder.analytics.product_cycle import product_cycles
from afterorder.analytics.retention import ReportError, crr, crr_series, retention_report
from afterorder.clock import FrozenClock
from afterorder.db.stores import StoreRow
from afterorder.runtime import Runtime
from tests.factories import JP_STORE, US_STORE, add_store, running
from tests.retention_history import PRODUCT_HISTORY, RETENTION_HISTORY, placed, store_history

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)
APRIL, JUNE_END = date(2026, 4, 1), date(2026, 6, 30)


@pytest.fixture
async def history(database_url: str) -> Any:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store, _ = await add_store(runtime, JP_STORE)
        await store_history(runtime, store, RETENTION_HISTORY)
        yield runtime, store


async def test_crr_of_the_quarter_matches_the_hand_count(history: tuple[Runtime, StoreRow]) -> None:
    runtime, store = history
    async with runtime.engine.connect() as conn:
        report = await retention_report(conn, store, APRIL, JUNE_END)
    data = report.as_json()
    # B = c01, c02, c09, c10, c12 = 5 (c05's only order before the period was cancelled; c03 and c11 lapsed;
    #     c06 ordered at 00:30 on April 1st in Tokyo, inside the period).
    # E = c01, c03, c04, c05, c06, c08, c09, c10 = 8 (c02 and c12 lapsed; c07 ordered after the last day).
    # N = c04, c05, c06, c08 = 4.   CRR = (8 − 4) / 5 × 100 = 80.
    assert data["retention"] == {"customers_at_start": 5, "customers_at_end": 8, "new_customers": 4, "crr": 80.0}
    # To date (orders before 2026-07-01 00:00 JST): 11 customers (all but c07); with 2+ orders: c01, c03, c04,
    # c09 = 4 (c05's cancelled order does not make it a repeat buyer).  In the period: c01, c03, c04, c05, c06,
    # c08 = 6 ordered; c01 and c04 twice.
    assert data["repeat_purchase_rate"]["to_date"] == {"customers": 11, "repeat_customers": 4, "rate": 400 / 11}
    assert data["repeat_purchase_rate"]["in_period"] == {"customers": 6, "repeat_customers": 2, "rate": 200 / 6}
    # AOV: 8 orders in the period, 3000 + 5000 + 4000 + 2000 + 2500 + 6000 + 1000 + 7000 = 30500 → 3812.5 → ¥3813.
    assert data["aov"] == [{"currency": "JPY", "orders": 8, "revenue": "30500", "average": "3813"}]
    # CLV: every counted order to date: 9500 + 2000 + 7000 + 4500 + 6000 + 1000 + 7000 + 3000 + 2200 + 1100
    # + 1300 = 44600 over 11 customers = 4054.5… → ¥4055.
    assert data["historic_clv"] == [{"currency": "JPY", "customers": 11, "revenue": "44600", "average": "4055"}]
    # Cohorts: April = c04 (04-10) and c06 (04-01 00:30): both in April, c04 again in June; May = c05; June = c08.
    assert [(c["cohort"], c["customers"], [(m["customers"], m["percent"]) for m in c["months"]])
            for c in data["cohorts"]] == [
        ("2026-04", 2, [(2, 100.0), (0, 0.0), (1, 50.0)]),
        ("2026-05", 1, [(1, 100.0), (0, 0.0)]),
        ("2026-06", 1, [(1, 100.0)]),
    ]


async def test_crr_by_month_quarter_and_a_shorter_active_window(history: tuple[Runtime, StoreRow]) -> None:
    runtime, store = history
    async with runtime.engine.connect() as conn:
        months = await crr_series(conn, store, APRIL, JUNE_END, "month")
        quarters = await crr_series(conn, store, date(2026, 1, 1), JUNE_END, "quarter")
        short = await crr(conn, store, APRIL, JUNE_END, active_days=90)
        with_series = await retention_report(conn, store, APRIL, JUNE_END, granularity="month")
    # April: B = 5 (as for the quarter); E at 04-30 (window from 2025-05-01) = c01, c02, c04, c06, c09, c10 = 6;
    #        N = c04, c06 → (6 − 2) / 5 = 80 %.
    # May:   B = 6; E at 05-31 (from 2025-06-01) = c01, c02, c03, c04, c05, c06, c09, c10 = 8; N = c05
    #        → (8 − 1) / 6 = 116.67 % (c03 came back after lapsing).
    # June:  B = 8; E = 8 (c02 lapsed, c08 new); N = c08 → (8 − 1) / 8 = 87.5 %.
    assert [(m.label, m.start, m.end, m.at_start, m.at_end, m.new) for m in months] == [
        ("2026-04", APRIL, date(2026, 4, 30), 5, 6, 2),
        ("2026-05", date(2026, 5, 1), date(2026, 5, 31), 6, 8, 1),
        ("2026-06", date(2026, 6, 1), JUNE_END, 8, 8, 1),
    ]
    assert [m.rate for m in months] == [80.0, 700 / 6, 87.5]
    # The quarter's own figures come out of the same scan: B of April, E of June, N summed.
    assert with_series.series == months
    assert (with_series.crr.at_start, with_series.crr.at_end, with_series.crr.new) == (5, 8, 4)
    # Q2 is the quarter of the first test; Q1 (2026-01-01 – 03-31): B at 2025-12-31 (from 2025-01-01) = c01, c02,
    # c09, c11, c12 = 5; E at 03-31 (from 2025-04-01) = c01, c02, c09, c10, c12 = 5; N = c10 → (5 − 1) / 5 = 80 %.
    assert [(q.label, q.at_start, q.at_end, q.new, q.rate) for q in quarters] == [
        ("2026-Q1", 5, 5, 1, 80.0), ("2026-Q2", 5, 8, 4, 80.0)]
    # 90 days: B = ordered 2026-01-01 – 03-31 = c10 = 1; E = ordered 04-02 – 06-30 = c01, c03, c04, c05, c08 = 5
    # (c06's 04-01 order is 91 days old at the end); N = 4 → (5 − 4) / 1 = 100 %.
    assert (short.at_start, short.at_end, short.new, short.rate) == (1, 5, 4, 100.0)


async def test_a_period_before_any_order_has_no_rate_and_bad_periods_are_named(
        history: tuple[Runtime, StoreRow]) -> None:
    runtime, store = history
    async with runtime.engine.connect() as conn:
        empty = await retention_report(conn, store, date(2020, 1, 1), date(2020, 12, 31))
        assert empty.crr.rate is None and empty.as_json()["aov"] == [] and empty.cohorts == []
        assert empty.repeat_to_date.rate is None
        with pytest.raises(ReportError, match=r"^from: 2026-07-01 is after to 2026-06-30"):
            await crr(conn, store, date(2026, 7, 1), JUNE_END)
        with pytest.raises(ReportError, match=r"^active_days: 0 is out of range"):
            await crr(conn, store, APRIL, JUNE_END, active_days=0)


async def test_money_is_kept_apart_per_currency(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store, _ = await add_store(runtime, JP_STORE)
        await store_history(runtime, store, [
            placed("u1", "x1", "2026-05-01 12:00", 100, currency="USD"),
            placed("u2", "x1", "2026-05-03 12:00", None, currency="USD"),  # no total: not in the average
            placed("u3", "x2", "2026-05-04 12:00", 25, currency="USD"),
            placed("j1", "x3", "2026-05-05 12:00", 3000),
        ])
        async with runtime.engine.connect() as conn:
            data = (await retention_report(conn, store, APRIL, JUNE_END)).as_json()
    # The store's currency first. USD: 100 + 25 over the 2 orders with a total = 62.50; 2 customers → 62.50.
    assert data["aov"] == [{"currency": "JPY", "orders": 1, "revenue": "3000", "average": "3000"},
                           {"currency": "USD", "orders": 2, "revenue": "125.00", "average": "62.50"}]
    assert data["historic_clv"] == [{"currency": "JPY", "customers": 1, "revenue": "3000", "average": "3000"},
                                    {"currency": "USD", "customers": 2, "revenue": "125.00", "average": "62.50"}]


async def test_product_cycles_from_history_with_the_catalog_fallback(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store, _ = await add_store(runtime, JP_STORE)
        await store_history(runtime, store, PRODUCT_HISTORY)
        catalog = {"sencha": 45, "MATCHA-30G": 28}
        async with runtime.engine.connect() as conn:
            default = await product_cycles(conn, store, fallback_days=catalog.get)
            strict = await product_cycles(conn, store, min_sample=6, fallback_days=catalog.get)
            loose = await product_cycles(conn, store, min_sample=1, products=["sencha", "hojicha"])
    # sencha: 5 intervals [30, 30, 30, 40, 20] (same-day orders once, the cancelled order left out) → median 30.
    # MATCHA-30G: 1 interval, too few → the catalog's 28 days. kyusu: never bought twice, not in the catalog.
    assert [c.as_json() for c in default] == [
        {"product": "sencha", "title": "煎茶", "buyers": 3, "sample": 5, "days": 30.0, "source": "history"},
        {"product": "kyusu", "title": "京焼 急須", "buyers": 2, "sample": 0, "days": None, "source": None},
        {"product": "MATCHA-30G", "title": "抹茶 30g", "buyers": 1, "sample": 1, "days": 28.0, "source": "catalog"},
        {"product": "hojicha", "title": "ほうじ茶", "buyers": 1, "sample": 1, "days": None, "source": None},
    ]
    # Asking for 6 intervals: sencha's 5 are too few, so the catalog's 45 days.
    assert (strict[0].product, strict[0].sample, strict[0].days, strict[0].source) == ("sencha", 5, 45.0, "catalog")
    # hojicha: 02-01 01:00 → 02-21 in Tokyo = 20 days (21 by UTC dates).
    assert [(c.product, c.sample, c.days, c.source) for c in loose] == [
        ("sencha", 5, 30.0, "history"), ("hojicha", 1, 20.0, "history")]


async def test_product_cycle_days_follow_daylight_saving_time(database_url: str) -> None:
    def bought(order_id: str, at: str, product: str) -> dict[str, Any]:
        return {"id": f"placed:{order_id}", "type": "order.placed", "occurred_at": at,
                "customer": {"id": "emma", "email": "emma@example.com"},
                "order": {"id": order_id, "currency": "USD", "total": 18,
                          "lines": [{"product_id": product, "title": product, "price": 18}]}}

    async with running(database_url, FrozenClock(NOW)) as runtime:
        store, _ = await add_store(runtime, US_STORE)  # America/New_York
        await store_history(runtime, store, [
            bought("n1", "2026-03-01T12:00:00-05:00", "spring"),  # EST
            bought("n2", "2026-03-10T00:30:00-04:00", "spring"),  # EDT: 04:30 UTC, the 9th on a −5 h clock
            bought("n3", "2026-10-31T12:00:00-04:00", "autumn"),  # EDT
            bought("n4", "2026-11-01T23:30:00-05:00", "autumn"),  # EST again: the 2nd on a −4 h clock
        ])
        async with runtime.engine.connect() as conn:
            found = await product_cycles(conn, store, min_sample=1)
    # New York days: spring 03-01 → 03-10 = 9 days, autumn 10-31 → 11-01 = 1 day; a fixed offset gets one wrong.
    assert sorted((c.product, c.sample, c.days) for c in found) == [("autumn", 1, 1.0), ("spring", 1, 9.0)]

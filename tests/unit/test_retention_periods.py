"""The pure parts of the reports: parsing days, splitting periods, intervals and the cycle rule."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from afterorder.analytics.product_cycle import cycle, median_of, utc_offsets
from afterorder.analytics.retention import Crr, ReportError, end_of, parse_day, split_period


def test_days_are_parsed_and_bad_ones_name_the_parameter() -> None:
    assert parse_day("--from", "2026-04-01") == date(2026, 4, 1)
    with pytest.raises(ReportError, match=r"^--from: '2026/04/01' is not a date; use YYYY-MM-DD$"):
        parse_day("--from", "2026/04/01")
    with pytest.raises(ReportError, match=r"^to: required"):
        parse_day("to", None)


def test_a_day_given_as_an_end_ends_at_the_next_midnight_in_the_store_zone() -> None:
    assert end_of(date(2026, 6, 30), ZoneInfo("Asia/Tokyo")) == datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
    # New York's clocks go back on 2026-11-01: that day lasts 25 hours and still ends at local midnight.
    assert end_of(date(2026, 11, 1), ZoneInfo("America/New_York")) == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)


def test_periods_split_into_calendar_months_and_quarters_clipped_to_the_period() -> None:
    assert split_period(date(2026, 1, 15), date(2026, 3, 10), "month") == [
        ("2026-01", date(2026, 1, 15), date(2026, 1, 31)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 10)),
    ]
    assert split_period(date(2025, 11, 5), date(2026, 4, 1), "quarter") == [
        ("2025-Q4", date(2025, 11, 5), date(2025, 12, 31)),
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-Q2", date(2026, 4, 1), date(2026, 4, 1)),
    ]
    with pytest.raises(ReportError, match=r"^granularity: 'week'"):
        split_period(date(2026, 1, 1), date(2026, 2, 1), "week")  # type: ignore[arg-type]


def test_crr_is_e_minus_n_over_b() -> None:
    assert Crr(date(2026, 1, 1), date(2026, 3, 31), at_start=8, at_end=9, new=3).rate == 75.0
    assert Crr(date(2026, 1, 1), date(2026, 3, 31), at_start=0, at_end=4, new=4).rate is None


def test_median_of_a_histogram() -> None:
    assert median_of({30: 3, 40: 1, 20: 1}) == 30.0
    assert median_of({10: 1, 20: 1, 30: 1, 40: 1}) == 25.0
    assert median_of({7: 2, 9: 2}) == 8.0
    assert median_of({5: 1}) == 5.0


def test_utc_offsets_find_each_daylight_saving_change_to_the_second() -> None:
    initial, changes = utc_offsets(ZoneInfo("America/New_York"), datetime(2026, 1, 1, tzinfo=UTC),
                                   datetime(2026, 12, 31, tzinfo=UTC))
    assert initial == -5 * 3600
    assert changes == [(datetime(2026, 3, 8, 7, 0, tzinfo=UTC), -4 * 3600),
                       (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), -5 * 3600)]
    assert utc_offsets(ZoneInfo("Asia/Tokyo"), datetime(2020, 1, 1, tzinfo=UTC),
                       datetime(2026, 12, 31, tzinfo=UTC)) == (9 * 3600, [])


def test_cycle_takes_the_median_then_the_catalog_then_nothing() -> None:
    catalog = {"tea": 40}.get
    assert cycle("tea", None, 4, {10: 1, 20: 1, 30: 1, 40: 1}, min_sample=4, fallback_days=catalog).days == 25.0
    fallback = cycle("tea", None, 4, {10: 1, 20: 2}, min_sample=4, fallback_days=catalog)
    assert (fallback.days, fallback.source, fallback.sample) == (40.0, "catalog", 3)
    unknown = cycle("cup", None, 1, {}, min_sample=4, fallback_days=catalog)
    assert (unknown.days, unknown.source) == (None, None)
    assert cycle("cup", None, 1, {7: 1}, min_sample=1, fallback_days=None).source == "history"

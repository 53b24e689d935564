"""``channels.http.retry_after``: how long a provider asked us to wait, from whichever header it sent."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from afterorder.channels.http import MAX_RETRY_AFTER, retry_after

NOW = time.time()


def test_retry_after_in_seconds() -> None:
    assert retry_after({"Retry-After": "2"}, now=NOW) == 2.0
    assert retry_after({"retry-after": " 1.5 "}, now=NOW) == 1.5


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=90)

    waited = retry_after({"Retry-After": format_datetime(later, usegmt=True)}, now=later.timestamp() - 90)

    assert waited == pytest.approx(90.0)


def test_a_date_already_past_means_no_wait() -> None:
    now = time.time()
    past = datetime.fromtimestamp(now, UTC) - timedelta(minutes=5)

    assert retry_after({"Retry-After": format_datetime(past, usegmt=True)}, now=now) == 0.0


def test_x_ratelimit_reset_as_a_unix_time() -> None:
    assert retry_after({"X-RateLimit-Reset": str(int(NOW) + 30)}, now=int(NOW)) == 30.0


def test_x_ratelimit_reset_as_seconds_when_small() -> None:
    assert retry_after({"X-RateLimit-Reset": "12"}, now=NOW) == 12.0


def test_retry_after_wins_over_x_ratelimit_reset() -> None:
    assert retry_after({"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 60)}, now=NOW) == 3.0


def test_unreadable_or_missing_headers_give_no_delay() -> None:
    assert retry_after({}, now=NOW) is None
    assert retry_after({"Retry-After": "soon"}, now=NOW) is None
    assert retry_after({"X-RateLimit-Reset": "never"}, now=NOW) is None
    assert retry_after({"Retry-After": "nan"}, now=NOW) is None


def test_a_wait_longer_than_a_day_is_read_as_a_day() -> None:
    assert retry_after({"Retry-After": str(40 * 86_400)}, now=NOW) == MAX_RETRY_AFTER
    assert retry_after({"Retry-After": "-5"}, now=NOW) == 0.0

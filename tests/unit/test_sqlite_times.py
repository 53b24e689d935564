"""SQLite times: ``UtcDateTime`` writes the very text SQLAlchemy's DATETIME wrote before it (rows
already stored and the SQL comparisons on them depend on it) and reads any of SQLite's forms back
as aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.base import DATETIME

from afterorder.db.schema.types import UtcDateTime, sqlite_parse, sqlite_time

TOKYO = timezone(timedelta(hours=9))
TIMES = [datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC), datetime(2026, 11, 22, 10, 2, 3, 456, tzinfo=TOKYO),
         datetime(999, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]


@pytest.mark.parametrize("value", TIMES)
def test_the_stored_text_is_sqlalchemys_datetime_text(value: datetime) -> None:
    before = DATETIME().bind_processor(sqlite.dialect())
    assert before is not None
    assert sqlite_time(value) == before(value.astimezone(UTC).replace(tzinfo=None))
    assert UtcDateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect()) is sqlite_time
    assert sqlite_parse(sqlite_time(value)) == value


def test_read_back_as_aware_utc_whatever_the_form() -> None:
    assert sqlite_parse("2026-11-22 01:02:03") == datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
    assert sqlite_parse("2026-11-22 01:02:03.5") == datetime(2026, 11, 22, 1, 2, 3, 500000, tzinfo=UTC)
    assert sqlite_parse("2026-11-22") == datetime.combine(date(2026, 11, 22), datetime.min.time(), UTC)
    assert sqlite_parse("2026-11-22T10:02:03+09:00") == datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
    assert sqlite_parse(None) is None


def test_a_naive_time_is_refused_and_postgresql_keeps_the_general_path() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 11, 22, 1, 2, 3))
    assert UtcDateTime().dialect_impl(postgresql.dialect()).bind_processor(postgresql.dialect()) is not sqlite_time

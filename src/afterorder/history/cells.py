"""Reading one spreadsheet cell: text, amounts, counts, yes/no, times, currencies, countries.

Every problem is a ``CellError`` that names the column and the value, e.g.
``Total: 'abc' is not an amount`` or ``Created at: '9999-12-31 23:59' is more than 1 day ahead of
now``; the parser turns it into a rejected row.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import list_currencies

from afterorder.intake.limits import EARLIEST, MAX_AHEAD, too_early

TRUE = {"yes", "y", "true", "t", "1", "subscribed", "opted_in"}
FALSE = {"no", "n", "false", "f", "0", "not_subscribed", "unsubscribed", "pending", "invalid", "redacted"}


class CellError(ValueError):
    """A value that cannot be read; the message names the column."""


def text(value: str | None) -> str | None:
    """Trimmed text or None.  Spreadsheet exports guard numbers with a leading apostrophe
    (``'0312345678``); it is dropped."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value[0] == "'" and len(value) > 1 and (value[1].isdigit() or value[1] == "+"):
        return value[1:]
    return value


def required(column: str, value: str | None) -> str:
    found = text(value)
    if found is None:
        raise CellError(f"{column}: missing")
    return found


def amount(column: str, value: str | None) -> Decimal | None:
    found = text(value)
    if found is None:
        return None
    try:
        number = Decimal(found.replace(",", "")) if "," in found and "." in found else Decimal(found)
    except InvalidOperation:
        raise CellError(f"{column}: {found!r} is not an amount") from None
    if not number.is_finite() or number < 0:
        raise CellError(f"{column}: {found!r} is not an amount")
    return number


def count(column: str, value: str | None) -> int | None:
    found = text(value)
    if found is None:
        return None
    try:
        return int(found)
    except ValueError:
        raise CellError(f"{column}: {found!r} is not a whole number") from None


def flag(column: str, value: str | None) -> bool | None:
    found = text(value)
    if found is None:
        return None
    lowered = found.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise CellError(f"{column}: {found!r} is not yes or no")


def when(column: str, value: str | None, zone: tzinfo, now: datetime) -> datetime | None:
    """ISO 8601 and Shopify's ``2025-10-07 09:50:26 +0200``; without an offset, the store's local time.
    Within the limits of ``intake.limits``: from 1970 to a day after ``now``."""
    found = text(value)
    if found is None:
        return None
    try:
        moment = datetime.fromisoformat(found.replace(" UTC", "+00:00"))
    except ValueError:
        raise CellError(f"{column}: {found!r} is not a date and time (e.g. 2024-05-01 14:30:00 +0900)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    early = too_early(moment)
    if early is None or early:
        raise CellError(f"{column}: {found!r} is before {EARLIEST:%Y-%m-%d %H:%M} UTC")
    if moment > now + MAX_AHEAD:
        raise CellError(f"{column}: {found!r} is more than {MAX_AHEAD.days} day ahead of now")
    return moment


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def currency(column: str, value: str | None) -> str | None:
    found = text(value)
    if found is None:
        return None
    code = found.upper()
    if code not in _currencies():
        raise CellError(f"{column}: {found!r} is not a known currency code (e.g. JPY, USD, EUR)")
    return code


def country(column: str, value: str | None) -> str | None:
    found = text(value)
    if found is None:
        return None
    if len(found) != 2 or not found.isalpha():
        raise CellError(f"{column}: {found!r} is not a two-letter country code (e.g. JP, US)")
    return found.upper()


def tags(value: str | None) -> list[str]:
    found = text(value)
    return [t.strip() for t in found.split(",") if t.strip()] if found else []

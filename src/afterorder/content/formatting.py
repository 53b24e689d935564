"""Money, dates and addresses the way a reader in each locale expects them (Babel).

The template filters read the message's ``locale`` and ``timezone`` from the render context, so one
compiled template serves every store and customer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency
from jinja2 import pass_context
from jinja2.runtime import Context

from afterorder.content.i18n import babel_locale


def _language(locale: str) -> str:
    return locale.replace("_", "-").split("-")[0].lower()


@cache
def _babel(locale: str) -> Locale:
    try:
        return Locale.parse(babel_locale(locale))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def format_money(amount: Decimal | int | float | None, currency: str, locale: str) -> str:
    """``¥15,000`` (ja, JPY), ``$12.50`` (en, USD), ``¥128.00`` (zh-Hans, CNY); ``""`` for no amount."""
    if amount is None:
        return ""
    return _money(Decimal(str(amount)), currency.upper(), locale)


@lru_cache(maxsize=8192)
def _money(amount: Decimal, currency: str, locale: str) -> str:
    """Prices repeat across messages; Babel's formatting is the costly part of rendering."""
    text = format_currency(amount, currency, locale=_babel(locale))
    if _language(locale) == "ja":
        text = text.replace("￥", "¥")  # Japanese stores write the half-width sign
    return text


def zone(name: str | None, *fallbacks: str | None) -> tzinfo:
    """The first valid time zone among ``name`` and ``fallbacks``; UTC when none is valid."""
    for candidate in (name, *fallbacks):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def format_day(value: datetime | date | None, locale: str, tz: tzinfo) -> str:
    """``2026年11月22日`` (ja, zh-Hans), ``November 22, 2026`` (en), as the day falls in ``tz``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = (value.astimezone(tz) if value.tzinfo is not None else value).date()
    return _day(value, locale)


@lru_cache(maxsize=4096)
def _day(value: date, locale: str) -> str:
    return babel_format_date(value, "long", locale=_babel(locale))


def _concat(*parts: str) -> str:
    """Join address parts: no spaces between CJK parts (東京都渋谷区神南), spaces otherwise."""
    parts = tuple(p for p in parts if p)
    return ("" if all(not p.isascii() for p in parts) else " ").join(parts)


def address_lines(address: Mapping[str, str] | None, locale: str) -> list[str]:
    """The address as lines in the reader's convention (largest unit first in ja / zh); blanks skipped."""
    if not address:
        return []

    def get(key: str) -> str:
        return str(address.get(key) or "").strip()

    language = _language(locale)
    code = get("country").upper()
    country = _babel(locale).territories.get(code, code) if code else ""
    postal, name = get("postal_code"), get("name")
    if language == "ja":
        lines = [
            f"〒{postal}" if postal else "",
            _concat(get("region"), get("city"), get("line1")),
            get("line2"),
            get("company"),
            f"{name} 様" if name else "",
            country,
        ]
    elif language == "zh":
        lines = [_concat(country, get("region"), get("city"), get("line1")), get("line2"), postal,
                 get("company"), name]
    else:
        region = " ".join(p for p in (get("region"), postal) if p)
        city = ", ".join(p for p in (get("city"), region) if p)
        lines = [name, get("company"), get("line1"), get("line2"), city, country]
    return [line for line in lines if line]


# ---- Jinja filters -------------------------------------------------------------------------


@pass_context
def money_filter(context: Context, amount: Decimal | int | float | None, currency: str | None = None) -> str:
    """``{{ line.price | money(order.currency) }}``; currency defaults to the store's."""
    return format_money(amount, currency or context["store"].currency, context["locale"])


@pass_context
def date_filter(context: Context, value: datetime | date | None) -> str:
    """``{{ order.placed_at | date }}``: the day in the customer's time zone (else the store's)."""
    return format_day(value, context["locale"], zone(context["timezone"]))


@pass_context
def address_filter(context: Context, address: Mapping[str, str] | None) -> list[str]:
    """``{% for line in order.shipping_address | address_lines %}``."""
    return address_lines(address, context["locale"])


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money_filter,
    "date": date_filter,
    "address_lines": address_filter,
}

"""The dashboard's language: which one a request is shown in, its translations, and numbers, money
and dates written the way that language writes them.

- Three languages: ``en`` (the source: the English text in the code and templates), ``ja`` and
  ``zh_Hans``.  Their catalogs are the ``.po`` files in ``locales/<lang>/LC_MESSAGES/dashboard.po``,
  read and compiled in memory when this module is imported: nothing to build after a fresh clone.
- A request's language is the user's own choice (``dashboard_users.language``) when there is one,
  else the best match of the browser's ``Accept-Language``, else English.  ``zh``, ``zh-CN``,
  ``zh-SG`` and ``zh-Hans`` mean Simplified Chinese; ``zh-TW``, ``zh-HK`` and ``zh-Hant`` match nothing.
- The language is held in a context variable for the length of a request (``use``), so the
  translations (``gettext``, ``_``) and the formats (``number``, ``percent``, ``money``, ``day``,
  ``moment``…) need no request passed down.
- A msgid without a translation shows in English; the test suite fails on any (tests/unit/test_dashboard_i18n.py).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Final

from babel.core import Locale
from babel.dates import format_date, format_skeleton, format_time, get_timezone_location
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

from afterorder.db.dashboard_users import LANGUAGES as LANGUAGES

DEFAULT: Final = "en"
# Each language named in itself, for the picker.
NAMES: Final[Mapping[str, str]] = {"en": "English", "ja": "日本語", "zh_Hans": "简体中文"}
CATALOGS: Final = Path(__file__).parent / "locales"
DOMAIN: Final = "dashboard"

_current: ContextVar[str] = ContextVar("dashboard_language", default=DEFAULT)


def catalog_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _load(language: str) -> NullTranslations:
    """The language's ``.po`` compiled in memory (fuzzy entries are left out, as ``msgfmt`` does)."""
    if language == DEFAULT:
        return NullTranslations()
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


TRANSLATIONS: Final[Mapping[str, NullTranslations]] = {lang: _load(lang) for lang in LANGUAGES}
_LOCALES: Final[Mapping[str, Locale]] = {lang: Locale.parse(lang) for lang in LANGUAGES}


def known(language: str | None) -> str | None:
    """``language`` if it is one of the dashboard's, else None."""
    return language if language in LANGUAGES else None


def _match(tag: str) -> str | None:
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "ja":
        return "ja"
    if parts[0] == "zh":
        rest = set(parts[1:])
        if rest & {"hant", "tw", "hk", "mo"}:
            return None
        return "zh_Hans"
    return None


def from_accept_language(header: str | None) -> str:
    """The dashboard language the browser prefers most (``Accept-Language`` with q-values), else English."""
    ranked: list[tuple[float, int, str]] = []
    for n, item in enumerate((header or "").split(",")):
        tag, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found = _match(tag)
        if found is not None and quality > 0:
            ranked.append((-quality, n, found))
    return min(ranked)[2] if ranked else DEFAULT


def use(language: str) -> str:
    """Show the rest of this request in ``language`` (one of ``LANGUAGES``); returns it."""
    _current.set(language if language in LANGUAGES else DEFAULT)
    return _current.get()


def current() -> str:
    return _current.get()


def html_lang() -> str:
    """The language as an HTML ``lang`` attribute (BCP 47): ``en``, ``ja``, ``zh-Hans``."""
    return current().replace("_", "-")


def gettext(message: str) -> str:
    return TRANSLATIONS[current()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return TRANSLATIONS[current()].ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` where the same English word means something else elsewhere (``sent``: a status, a count)."""
    return str(TRANSLATIONS[current()].pgettext(context, message))


_ = gettext


def N_(message: str) -> str:
    """Marks ``message`` for translation where it is defined (Babel's extractor looks for the name);
    translate it where it is shown."""
    return message


def NP_(context: str, message: str) -> str:
    """``N_`` with a context: translate it with ``pgettext(context, message)`` where it is shown."""
    return message


def number(value: int | float | Decimal) -> str:
    return format_decimal(value, locale=_LOCALES[current()])


def percent(value: float | None) -> str:
    """A percentage already multiplied by 100 (55.555 → ``55.56%``); ``–`` for None."""
    if value is None:
        return "–"
    return format_percent(value / 100, "#,##0.00%", locale=_LOCALES[current()])


def money(amount: Decimal | int | float, currency: str) -> str:
    """An amount in its currency, to the currency's minor unit: ``¥8,000`` / ``￥8,000``, ``¥12.50`` in Chinese."""
    return format_currency(amount, currency, locale=_LOCALES[current()])


def day(value: date) -> str:
    return format_date(value, "medium", locale=_LOCALES[current()])


def month(value: date) -> str:
    return format_skeleton("yMMM", value, locale=_LOCALES[current()])


def quarter(value: date) -> str:
    return format_skeleton("yQQQ", value, locale=_LOCALES[current()])


def moment(value: datetime, zone: tzinfo) -> str:
    """A date and time in ``zone``: ``Nov 30, 2026 3:05 PM``, ``2026/11/30 15:05``, ``2026年11月30日 15:05``."""
    try:
        local = value.astimezone(zone)
    except OverflowError:  # a time at the edge of the calendar (year 9999 in UTC) has no local form
        return value.isoformat()
    found = _LOCALES[current()]
    return f"{format_date(local.date(), 'medium', locale=found)} {format_time(local, 'short', locale=found)}"


def whole_percent(value: float) -> str:
    """A percentage already multiplied by 100, to the whole number: 95.0 → ``95%``."""
    return format_percent(value / 100, "#,##0%", locale=_LOCALES[current()])


def points(value: float) -> str:
    """A difference of percentages with its sign: ``+37.37``."""
    return format_decimal(value, "+#,##0.00;-#,##0.00", locale=_LOCALES[current()])


def p_value(value: float) -> str:
    return format_decimal(value, "0.0000", locale=_LOCALES[current()])


def shown(value: object, zone: tzinfo) -> str:
    """A stored value in a table: times in ``zone``, numbers grouped, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return moment(value, zone)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, int | float | Decimal):
        return number(value)
    return str(value)


def zone_name(zone: str) -> str:
    """A time zone as people say it: ``Japan Time``, ``日本時間``, ``中国（上海）时间``."""
    try:
        return get_timezone_location(zone, locale=_LOCALES[current()])
    except LookupError:
        return zone


def short_day(value: date) -> str:
    """Month and day only, for a chart's axis: ``11/30``."""
    return format_skeleton("Md", value, locale=_LOCALES[current()])


def person(first: str | None, last: str | None) -> str:
    """A customer's name in the language's order: family name first in Japanese and Chinese."""
    parts = [last, first] if current() in ("ja", "zh_Hans") else [first, last]
    return " ".join(p for p in parts if p)

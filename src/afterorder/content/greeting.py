"""How a message opens, in each locale's manners.

ja: ``山田 太郎 様`` (family name first, then 様), ``お客様`` without a name;
zh-Hans: ``王小明，您好`` / ``尊敬的顾客，您好``; en and others: ``Hi Taro,`` / ``Hello,``.
Names written in Latin letters keep the given-name-first order in every locale.
"""

from __future__ import annotations

from afterorder.domain import CustomerSnapshot


def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


def _is_latin(*names: str) -> bool:
    return all(name.isascii() for name in names if name)


def full_name(locale: str, customer: CustomerSnapshot | None) -> str:
    """The customer's name as the locale writes it: ``山田 太郎`` (ja), ``王小明`` (zh), ``Jane`` (en:
    the given name); ``""`` without one."""
    first = _clean(customer.first_name if customer else None)
    last = _clean(customer.last_name if customer else None)
    language = locale.replace("_", "-").split("-")[0].lower()
    latin = _is_latin(first, last)
    if language == "ja":
        return " ".join(p for p in ((first, last) if latin else (last, first)) if p)
    if language == "zh":
        return " ".join(p for p in (first, last) if p) if latin else last + first
    return first


def greeting(locale: str, customer: CustomerSnapshot | None) -> str:
    """The salutation line for ``customer`` in ``locale``."""
    name = full_name(locale, customer)
    language = locale.replace("_", "-").split("-")[0].lower()
    if language == "ja":
        return f"{name} 様" if name else "お客様"
    if language == "zh":
        return f"{name}，您好" if name else "尊敬的顾客，您好"
    return f"Hi {name}," if name else "Hello,"

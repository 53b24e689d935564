"""Which locale a message is written in, and the few strings the shared layout needs.

Message copy lives in the templates (one file per locale); only the layout's footer and the
labels of the shared building blocks (item list, support contact) are kept here, so a store that
adds a locale gets English labels until it overrides ``_layout/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Final

from babel.core import get_global

_SEPARATORS: Final = re.compile(r"[-_]")


def _subtags(tag: str) -> tuple[str, str | None, str | None]:
    """Split a BCP 47 / POSIX-ish tag into (language, script, region); script inferred if absent."""
    parts = [p for p in _SEPARATORS.split(tag.strip()) if p]
    language = parts[0].lower()
    script = next((p.title() for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    region = next(
        (p.upper() for p in parts[1:] if (len(p) == 2 and p.isalpha()) or (len(p) == 3 and p.isdigit())),
        None,
    )
    if script is None:
        likely: Mapping[str, str] = get_global("likely_subtags")
        expanded = likely.get(f"{language}_{region}") if region else None
        expanded = expanded or likely.get(language)
        if expanded:
            script = next((p for p in expanded.split("_")[1:] if len(p) == 4), None)
    return language, script, region


@lru_cache(maxsize=4096)
def _candidates(tag: str) -> tuple[str, ...]:
    """Most specific first: zh-Hans-CN, zh-Hans, zh-CN, zh (remembered: every message asks again)."""
    language, script, region = _subtags(tag)
    found = []
    if script and region:
        found.append(f"{language}-{script}-{region}")
    if script:
        found.append(f"{language}-{script}")
    if region:
        found.append(f"{language}-{region}")
    found.append(language)
    return tuple(found)


def _key(tag: str) -> str:
    return tag.replace("_", "-").lower()


def resolve_locale(requested: str | None, available: Sequence[str], fallback: str) -> str:
    """Pick the available locale for ``requested``, else for ``fallback`` (the store's), else English.

    >>> resolve_locale("zh_Hans_CN", ["en", "ja", "zh-Hans"], "en")
    'zh-Hans'
    """
    if not available:
        raise LookupError("no locales available to choose from")
    by_key = {_key(name): name for name in available}
    for tag in (requested, fallback, "en"):
        if not tag or not tag.strip(" -_"):
            continue
        for candidate in _candidates(tag):
            if _key(candidate) in by_key:
                return by_key[_key(candidate)]
    return available[0]


def first_locale(preferred: Iterable[str | None], available: Sequence[str]) -> str:
    """The first of ``preferred`` that is given, as one of ``available`` (English when none fits)."""
    return resolve_locale(next((p for p in preferred if p), "en"), available, "en")


def localized(tables: Mapping[str, Mapping[str, str]], locale: str, **values: str) -> dict[str, str]:
    """The strings of ``tables`` (one table per locale) for ``locale`` (English when none fits),
    each ``{name}`` in them replaced by ``values[name]``."""
    table = tables[first_locale([locale], list(tables))]
    return {key: _filled(text, values) for key, text in table.items()}


def _filled(text: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def babel_locale(locale: str) -> str:
    """``zh-Hans`` → ``zh_Hans``: the identifier Babel expects."""
    return locale.replace("-", "_")


# ---- layout strings ------------------------------------------------------------------------

_LAYOUT_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "help": "Questions? We're happy to help.",
        "reply": "Just reply to this email.",
        "email": "Email",
        "phone": "Phone",
        "help_center": "Help center",
        "line_updates": "Get updates on LINE",
        "order_page": "View your order and delivery status",
        "order_page_short": "View your order",
        "notice": "You're receiving this email because you placed an order with {store}.",
        "quantity": "Qty",
        "colon": ": ",
        "font": "-apple-system, BlinkMacSystemFont, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif",
    },
    "ja": {
        "help": "ご不明な点がございましたら、お気軽にお問い合わせください。",
        "reply": "このメールにご返信いただいても承ります。",
        "email": "メール",
        "phone": "電話",
        "help_center": "ヘルプセンター",
        "line_updates": "LINEで通知を受け取る",
        "order_page": "ご注文の詳細・配送状況を見る",
        "order_page_short": "ご注文の詳細を見る",
        "notice": "このメールは、{store}をご利用いただいたお客様にお送りしています。",
        "quantity": "数量",
        "colon": "：",
        "font": "Hiragino Sans, Hiragino Kaku Gothic ProN, Yu Gothic, Meiryo, Arial, sans-serif",
    },
    "zh-Hans": {
        "help": "如有任何疑问，欢迎随时联系我们。",
        "reply": "您也可以直接回复此邮件。",
        "email": "邮箱",
        "phone": "电话",
        "help_center": "帮助中心",
        "line_updates": "用LINE接收通知",
        "order_page": "查看订单详情与物流",
        "order_page_short": "查看订单详情",
        "notice": "您收到此邮件，是因为您在{store}下了订单。",
        "quantity": "数量",
        "colon": "：",
        "font": "PingFang SC, Hiragino Sans GB, Microsoft YaHei, Helvetica Neue, Arial, sans-serif",
    },
}


def layout_text(locale: str, store_name: str) -> dict[str, str]:
    """The layout's strings in ``locale`` (English when the layout does not know it)."""
    return localized(_LAYOUT_TEXT, locale, store=store_name)

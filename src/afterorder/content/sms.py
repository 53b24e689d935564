"""SMS variants of messages: ``<message>/<locale>.sms.txt`` becomes a short plain text with one link.

The layout ``_layout/sms.txt`` puts the store's name in front (ja, en: the sender, as 特定電子メール法
asks of marketing SMS in Japan; zh-Hans: nothing, the provider adds the approved 【签名】) and, on
marketing messages, the way to opt out at the end.  The text is tidied (lines stripped, no blank
lines: every character is paid for) and measured (:mod:`afterorder.content.sms_segments`).

``params`` are the message's facts as strings, for a provider that sends an approved template with
variables instead of free text (Alibaba Cloud's ``TemplateParam``): ``name``, ``store``, ``order``,
``total``, ``carrier``, ``tracking``, ``date`` (estimated delivery), ``code`` (the coupon, when the
message may carry promotions) and ``link`` (the text's first link).  Only those with a value are given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from afterorder.content.formatting import format_day, format_money, zone
from afterorder.content.greeting import full_name
from afterorder.content.sms_segments import Encoding, measure

LAYOUT: Final = "_layout/sms.txt"
WARN_ABOVE: Final = 3
URL: Final = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&*+,;=%]+")
_URL_END: Final = ".,;:!?"


@dataclass(frozen=True)
class SmsRendered:
    """An SMS: the text, the provider's template variables, and what the text costs to send.

    ``links`` are the targets of the text's short links once they are made trackable
    (``tracking.links.instrument_sms``); empty before."""

    text: str
    params: dict[str, str]
    encoding: Encoding
    segments: int
    warning: str | None
    links: tuple[str, ...] = field(default=())

    def payload(self) -> str:
        """The outbox payload: ``{"text", "params", "links"}`` as compact JSON (the short-link redirect
        reads ``links`` from it)."""
        return json.dumps({"text": self.text, "params": self.params, "links": list(self.links)}, ensure_ascii=False,
                          separators=(",", ":"))


def tidy(text: str) -> str:
    """Lines stripped, blank lines dropped."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def warning_for(segments: int, encoding: Encoding) -> str | None:
    if segments <= WARN_ABOVE:
        return None
    return (f"{segments} segments ({encoding}): longer than {WARN_ABOVE}, so it costs {segments} messages "
            "and some carriers deliver it late or in pieces; shorten the text")


def measured(text: str, params: dict[str, str], links: tuple[str, ...] = ()) -> SmsRendered:
    length = measure(text)
    return SmsRendered(text=text, params=params, encoding=length.encoding, segments=length.segments,
                       warning=warning_for(length.segments, length.encoding), links=links)


def links_in(text: str) -> list[tuple[int, int]]:
    """Where the web addresses in ``text`` are (start, end), a sentence's last full stop or comma left out."""
    spans = []
    for match in URL.finditer(text):
        url = match.group(0).rstrip(_URL_END)
        if len(url) > len("https://"):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def params_of(context: Mapping[str, Any], text: str) -> dict[str, str]:
    store, customer, order, shipment = (context["store"], context["customer"], context["order"],
                                        context["shipment"])
    locale = context["locale"]
    coupon = context.get("coupon") if context.get("promotions") else None
    found = links_in(text)
    values = {
        "name": full_name(locale, customer),
        "store": store.name,
        "order": order.number if order else "",
        "total": format_money(order.total, order.currency, locale) if order and order.total is not None else "",
        "carrier": (shipment.carrier or "") if shipment else "",
        "tracking": (shipment.tracking_number or "") if shipment else "",
        "date": format_day(shipment.estimated_delivery, locale, zone(context["timezone"])) if shipment else "",
        "code": str(coupon.get("code") or "") if isinstance(coupon, Mapping) else "",
        "link": text[found[0][0]:found[0][1]] if found else "",
    }
    return {key: value for key, value in values.items() if value}


def finish(rendered: str, context: Mapping[str, Any]) -> SmsRendered:
    text = tidy(rendered)
    return measured(text, params_of(context, text))

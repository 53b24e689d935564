"""LINE variants of messages: ``<message>/<locale>.line.json`` becomes LINE message objects (a Flex card).

A message file holds blocks of plain text and may set a few variables at its top; the layout
``_layout/line.json`` builds the card from them (its header lists them).  The blocks are plain text,
like an email's text part: every value, a block's text included, enters the JSON only through one of
the ``json_*`` filters below, which write it as a JSON string, so no customer or product data can end
a string early or add to the card.  The result is parsed with ``json.loads`` and checked against
LINE's limits (:mod:`afterorder.channels.line_limits`) every time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import urlsplit

from jinja2 import TemplateError

from afterorder.channels import line_limits
from afterorder.channels.line_limits import MAX_URI_CHARS

LAYOUT: Final = "_layout/line.json"
MAX_IMAGE_URL: Final = 2_000
LINK_SCHEMES: Final = frozenset({"http", "https", "line", "tel"})
_BLANK_LINES: Final = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class LineRendered:
    """A message for LINE: ``messages`` are LINE message objects, ready for ``{"messages": messages}``."""

    alt_text: str
    messages: list[dict[str, Any]]

    def payload(self) -> str:
        """The outbox payload: ``{"messages": [...]}`` as compact JSON."""
        return json.dumps({"messages": self.messages}, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class CardItem:
    """One row of the card's item list, whatever it came from (an order line, a cart line, a product)."""

    title: str
    variant: str | None
    quantity: int | None
    amount: Decimal | None  # the row's price: quantity × unit price when both are known
    currency: str | None
    image_url: str | None  # HTTPS only (LINE shows no other)
    url: str | None  # where a tap on the row goes (a product page, a review form)


# ---- filters: the only way a value enters the JSON ------------------------------------------


def _json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def tidy_text(value: object) -> str:
    """Lines stripped, at most one blank line in a row, nothing around."""
    lines = [line.strip() for line in str(value).strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def json_text(value: object) -> str:
    """``{{ self.body() | json_text }}``: text of several lines as a JSON string."""
    return _json(tidy_text(value))


def json_line(value: object) -> str:
    """``{{ store.name | json_line }}``: one line of text as a JSON string."""
    return _json(" ".join(str(value).split()))


def link(value: object) -> str:
    """The address as given (trimmed) when LINE can open it (http, https, line, tel; ≤ 1,000 characters),
    else ``""``, so ``{% if x | link %}`` leaves out a button with nowhere to go."""
    text = str(value or "").strip()
    if not text or len(text) > MAX_URI_CHARS or any(c.isspace() for c in text):
        return ""
    return text if urlsplit(text).scheme.lower() in LINK_SCHEMES else ""


def image(value: object) -> str:
    """The image address when LINE can show it (HTTPS, ≤ 2,000 characters), else ``""``."""
    text = str(value or "").strip()
    if not text.lower().startswith("https://") or len(text) > MAX_IMAGE_URL or any(c.isspace() for c in text):
        return ""
    return text


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def card_item(item: Any) -> CardItem:
    quantity = _field(item, "quantity")
    quantity = int(quantity) if isinstance(quantity, int | str) and str(quantity).isdigit() else None
    price = _decimal(_field(item, "price"))
    variant = _field(item, "variant")
    currency = _field(item, "currency")
    return CardItem(
        title=" ".join(str(_field(item, "title") or "").split()),
        variant=str(variant) if variant else None,
        quantity=quantity,
        amount=price * (quantity or 1) if price is not None else None,
        currency=str(currency) if currency else None,
        image_url=image(_field(item, "image_url")) or None,
        url=link(_field(item, "url")) or None,
    )


def card_items(items: Iterable[Any] | None) -> list[CardItem]:
    """``{% for item in items | card_items %}``: order lines, cart lines (dicts) or products, alike."""
    return [found for found in (card_item(item) for item in items or ()) if found.title]


def choice_links(choices: Iterable[Any] | None) -> list[tuple[str, str]]:
    """``[(label, url), ...]`` with the labels as text, keeping only the choices LINE can open."""
    found = []
    for choice in choices or ():
        label, url = choice
        if (label := " ".join(str(label).split())) and (url := link(url)):
            found.append((label, url))
    return found


FILTERS: Final[dict[str, Callable[..., Any]]] = {
    "json_text": json_text, "json_line": json_line, "link": link, "image": image, "card_items": card_items,
    "choice_links": choice_links,
}


# ---- the result -----------------------------------------------------------------------------


def finish(name: str, rendered: str) -> LineRendered:
    """The layout's output as LINE messages: valid JSON (else TemplateError) within LINE's limits
    (else :class:`~afterorder.channels.line_limits.LineLimitError`)."""
    try:
        found = json.loads(rendered)
    except ValueError as exc:
        raise TemplateError(f"{name}: the LINE message is not valid JSON ({exc})") from None
    messages = [found] if isinstance(found, dict) else found
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise TemplateError(f"{name}: the layout must make a LINE message object or a list of them")
    line_limits.check(messages)
    first = messages[0]
    alt_text = first.get("altText") or first.get("text") or ""
    return LineRendered(alt_text=str(alt_text), messages=messages)

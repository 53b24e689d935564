"""What the development inbox draws of a LINE message: the message objects of a push read into typed
blocks that a template turns into simple HTML (``web/templates/inbox_line.html``).

* a text message → its text, as a plain chat bubble;
* a Flex message → its ``altText`` (the line a phone shows in its notification) and one card per
  bubble (a carousel gives several): the hero image, then the header, body and footer boxes with
  their texts, images, separators and buttons; a horizontal box is a row (an item with its price,
  the total), a vertical one a column;
* any other message (image, sticker, template …) → its type, and its ``altText`` when it has one.

An approximation of what LINE draws, enough to read a card.  Only values are carried over, never
markup: every text reaches the page through the template's escaping; a colour only when it is
``#rrggbb``; a link only when it is ``https``, ``http`` or ``tel`` (LINE opens ``line://`` itself;
a browser cannot); an image only when it is ``https`` (LINE shows no other).  Anything the view
does not know is left out, never an error: the inbox shows what a sink received, right or wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

_COLOR: Final = re.compile(r"#[0-9a-fA-F]{6}")
_SIZES: Final = frozenset({"xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl"})
_LINK_SCHEMES: Final = ("https://", "http://", "tel:")
_MUTED: Final = re.compile(r"#([89a-fA-F][0-9a-fA-F]){3}")  # a light grey-ish colour: secondary text


@dataclass(frozen=True)
class Text:
    kind: ClassVar[str] = "text"
    text: str
    size: str = "md"
    bold: bool = False
    muted: bool = False
    end: bool = False  # aligned to the end (a price, a total)
    grow: bool = True  # takes the row's free space


@dataclass(frozen=True)
class Image:
    kind: ClassVar[str] = "image"
    url: str
    full: bool = False  # as wide as the card (a hero), else a thumbnail
    link: str | None = None


@dataclass(frozen=True)
class Button:
    kind: ClassVar[str] = "button"
    label: str
    link: str | None
    primary: bool = False
    color: str | None = None


@dataclass(frozen=True)
class Separator:
    kind: ClassVar[str] = "separator"


@dataclass(frozen=True)
class Box:
    kind: ClassVar[str] = "box"
    row: bool  # horizontal / baseline: side by side
    parts: tuple[Block, ...]
    link: str | None = None
    shaded: bool = False  # a background colour of its own
    grow: bool = True


Block = Text | Image | Button | Separator | Box


@dataclass(frozen=True)
class Card:
    """One Flex bubble."""

    hero: Block | None
    sections: tuple[Block, ...]  # header, body, footer, those that are there


@dataclass(frozen=True)
class ChatMessage:
    """One message object of a push."""

    type: str  # text | flex | the type of any other message
    text: str = ""  # a text message's text
    alt_text: str = ""  # a Flex message's notification line (or another message's altText)
    cards: tuple[Card, ...] = ()


def read_messages(messages: Any) -> list[ChatMessage]:
    """The message objects of one push (``{"messages": [...]}``'s list), as the inbox shows them."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        return []
    return [read_message(m) for m in messages if isinstance(m, Mapping)]


def read_message(message: Mapping[str, Any]) -> ChatMessage:
    kind = _str(message.get("type")) or "unknown"
    alt_text = _str(message.get("altText"))
    if kind == "text":
        return ChatMessage("text", text=_str(message.get("text")))
    if kind == "flex":
        return ChatMessage("flex", alt_text=alt_text, cards=tuple(_cards(message.get("contents"))))
    return ChatMessage(kind, alt_text=alt_text)


def _cards(contents: Any) -> Iterable[Card]:
    if not isinstance(contents, Mapping):
        return []
    if contents.get("type") == "carousel":
        return [_card(b) for b in _list(contents.get("contents")) if isinstance(b, Mapping)]
    return [_card(contents)]


def _card(bubble: Mapping[str, Any]) -> Card:
    hero = _block(bubble["hero"], hero=True) if isinstance(bubble.get("hero"), Mapping) else None
    sections = (_block(bubble[name]) for name in ("header", "body", "footer") if isinstance(bubble.get(name), Mapping))
    return Card(hero, tuple(s for s in sections if s is not None))


def _block(node: Mapping[str, Any], *, hero: bool = False) -> Block | None:
    kind = node.get("type")
    if kind == "box":
        return _box(node)
    if kind == "text":
        return _text(node)
    if kind == "image":
        return _image(node, hero)
    if kind == "button":
        return _button(node)
    if kind == "separator":
        return Separator()
    return None  # icon, spacer, filler, video: nothing to read


def _box(node: Mapping[str, Any]) -> Box:
    parts = (_block(child) for child in _list(node.get("contents")) if isinstance(child, Mapping))
    return Box(row=node.get("layout") in ("horizontal", "baseline"), parts=tuple(p for p in parts if p is not None),
               link=_link(node), shaded=_color(node.get("backgroundColor")) is not None, grow=_grows(node))


def _text(node: Mapping[str, Any]) -> Text:
    spans = [_str(s.get("text")) for s in _list(node.get("contents")) if isinstance(s, Mapping)]
    size = _str(node.get("size"))
    color = _color(node.get("color"))
    return Text("".join(spans) or _str(node.get("text")), size=size if size in _SIZES else "md",
                bold=node.get("weight") == "bold", muted=color is not None and _MUTED.fullmatch(color) is not None,
                end=node.get("align") == "end", grow=_grows(node))


def _image(node: Mapping[str, Any], hero: bool) -> Image | None:
    url = _str(node.get("url"))
    if not url.startswith("https://"):
        return None
    return Image(url, full=hero or node.get("size") == "full", link=_link(node))


def _button(node: Mapping[str, Any]) -> Button:
    action = node.get("action")
    label = _str(action.get("label")) if isinstance(action, Mapping) else ""
    return Button(label, _link(node), primary=node.get("style") == "primary", color=_color(node.get("color")))


def _link(node: Mapping[str, Any]) -> str | None:
    action = node.get("action")
    if not isinstance(action, Mapping) or action.get("type") != "uri":
        return None
    uri = _str(action.get("uri"))
    return uri if uri.startswith(_LINK_SCHEMES) else None


def _grows(node: Mapping[str, Any]) -> bool:
    return node.get("flex") != 0


def _color(value: Any) -> str | None:
    return value if isinstance(value, str) and _COLOR.fullmatch(value) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

"""LINE's limits on what one push may carry, as pure checks, in one place: the content renderer checks
them when a template loads or a store saves its own version (LINE refuses a breach with 400, so it is
caught where the message is written), the LINE channel before it sends (PERMANENT, never sent), and the
local LINE sink answers 400 with them.

From LINE's Messaging API reference (message objects, Flex Message, actions) and the issue:

* 1–5 message objects per request;
* a text message's ``text`` ≤ 5,000 characters, a Flex message's ``altText`` ≤ 1,500 characters
  (required, not blank) — counted as LINE counts them, in UTF-16 code units (an emoji such as 🍎 counts 2);
* a bubble ≤ 30 KB of JSON; a carousel ≤ 12 bubbles and ≤ 50 KB of JSON.  LINE does not say which
  kilobyte it means: read here as 1,000 bytes (the stricter reading, so a card that passes is one LINE
  takes), of the compact UTF-8 JSON the channel sends (:func:`compact_json`);
* a URI action's ``uri`` ≤ 1,000 characters;
* LINE notification messages (PNP) take no image, video or audio message.

``problems`` lists every breach, where and by how much (empty when the payload is fine); ``check``
raises :class:`LineLimitError` with them, its ``limit`` naming the first limit broken
(e.g. ``"altText ≤ 1,500 characters"``).  Given the compact JSON document holding the messages
(the channel's request body), ``check`` skips what the document shows cannot fail (a tenth of the
CPU a LINE message costs to send): it serializes no container again when the document is within the
smallest container limit (a container's compact JSON is part of the document's), and walks no
message for links when no ``"uri"`` value in the document is longer than the link limit (a value's
characters are at most its encoded bytes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_MESSAGES = 5
MAX_TEXT_CHARS = 5_000
MAX_ALT_TEXT_CHARS = 1_500
MAX_BUBBLE_BYTES = 30_000
MAX_CAROUSEL_BUBBLES = 12
MAX_CAROUSEL_BYTES = 50_000
MAX_URI_CHARS = 1_000
PNP_REFUSED_TYPES = frozenset({"image", "video", "audio"})
_URI_VALUES = re.compile(rb'"uri":"((?:[^"\\]|\\.)*)"')  # every "uri" string value in compact JSON


@dataclass(frozen=True)
class Breach:
    """One limit broken: ``limit`` names it (``"bubble ≤ 30 KB"``), ``problem`` says where and by how much."""

    limit: str
    problem: str


class LineLimitError(ValueError):
    """A LINE payload over LINE's limits: ``problems`` names each breach, ``limit`` the first limit broken."""

    def __init__(self, breaches: Sequence[Breach]) -> None:
        self.limit = breaches[0].limit
        self.problems = [breach.problem for breach in breaches]
        super().__init__(f"over LINE's limit {self.limit}: " + "; ".join(self.problems))


def compact_json(value: Any) -> bytes:
    """The JSON the LINE channel sends: compact, UTF-8 (not ``\\u`` escapes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def line_chars(text: str) -> int:
    """A text's length as LINE counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def check(messages: object, *, notification: bool = False, document: bytes | None = None) -> None:
    """Raise :class:`LineLimitError` if ``messages`` (the request's list) breaks a limit.

    ``document``: a compact JSON document holding ``messages`` (see the module)."""
    sizes = document is None or len(document) > MAX_BUBBLE_BYTES
    links = document is None or any(len(value) > MAX_URI_CHARS for value in _URI_VALUES.findall(document))
    found = breaches(messages, notification=notification, sizes=sizes, links=links)
    if found:
        raise LineLimitError(found)


def problems(messages: object, *, notification: bool = False) -> list[str]:
    """Every limit the list of message objects breaks (``notification``: sent as a PNP message)."""
    return [breach.problem for breach in breaches(messages, notification=notification)]


def breaches(messages: object, *, notification: bool = False, sizes: bool = True, links: bool = True
             ) -> list[Breach]:
    """Every limit the list of message objects breaks, each named (``sizes`` / ``links`` False: the
    containers / the links are known to be within their limits)."""
    if not isinstance(messages, list):
        return [Breach("1–5 messages", "messages: a list of LINE message objects is required")]
    if not 1 <= len(messages) <= MAX_MESSAGES:
        return [Breach("1–5 messages",
                       f"messages: 1 to {MAX_MESSAGES} message objects per request, got {len(messages)}")]
    found: list[Breach] = []
    for index, message in enumerate(messages):
        found += _message(message, f"messages[{index}]", notification=notification, sizes=sizes, links=links)
    return found


def _message(message: object, where: str, *, notification: bool, sizes: bool, links: bool) -> list[Breach]:
    if not isinstance(message, Mapping) or not isinstance(message.get("type"), str):
        return [Breach("message object", f"{where}: a message object with a type is required")]
    kind = message["type"]
    if notification and kind in PNP_REFUSED_TYPES:
        return [Breach("no image, video or audio in a notification message",
                       f"{where}: LINE notification messages take no {kind} message")]
    return _by_type(message, where, sizes) + (_links(message, where) if links else [])


def _by_type(message: Mapping[str, Any], where: str, sizes: bool) -> list[Breach]:
    if message["type"] == "text":
        return _text(message.get("text"), f"{where}.text", "text", MAX_TEXT_CHARS)
    if message["type"] == "flex":
        alt_text = message.get("altText")
        blank = isinstance(alt_text, str) and not alt_text.strip()
        found = _text("" if blank else alt_text, f"{where}.altText", "altText", MAX_ALT_TEXT_CHARS)
        return found + _container(message.get("contents"), f"{where}.contents", sizes)
    return []


def _container(contents: object, where: str, sizes: bool = True) -> list[Breach]:
    """The limits a Flex container (a bubble or a carousel of bubbles) breaks."""
    if not isinstance(contents, Mapping) or contents.get("type") not in ("bubble", "carousel"):
        return [Breach("Flex contents", f"{where}: a bubble or carousel is required")]
    if contents["type"] == "bubble":
        return _size(contents, where, "bubble", MAX_BUBBLE_BYTES) if sizes else []
    bubbles = contents.get("contents")
    if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_CAROUSEL_BUBBLES:
        count = len(bubbles) if isinstance(bubbles, list) else 0
        return [Breach(f"carousel ≤ {MAX_CAROUSEL_BUBBLES} bubbles",
                       f"{where}: a carousel holds 1 to {MAX_CAROUSEL_BUBBLES} bubbles, got {count}")]
    found = _size(contents, where, "carousel", MAX_CAROUSEL_BYTES) if sizes else []
    for index, bubble in enumerate(bubbles):
        found += _container(bubble, f"{where}.contents[{index}]", sizes) if _is_bubble(bubble) else \
            [Breach("Flex contents", f"{where}.contents[{index}]: a carousel holds only bubbles")]
    return found


def _is_bubble(value: object) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "bubble"


def _links(message: Mapping[str, Any], where: str) -> list[Breach]:
    return [Breach(f"uri ≤ {MAX_URI_CHARS:,} characters",
                   f"{where}: a link is at most {MAX_URI_CHARS:,} characters, got {len(uri):,}")
            for uri in _uris(message) if len(uri) > MAX_URI_CHARS]


def _uris(node: object) -> Iterator[str]:
    """Every URI action's ``uri`` in a message object, however deep."""
    if isinstance(node, Mapping):
        if node.get("type") == "uri" and isinstance(node.get("uri"), str):
            yield node["uri"]
        for value in node.values():
            yield from _uris(value)
    elif isinstance(node, list):
        for value in node:
            yield from _uris(value)


def _text(text: object, where: str, field: str, limit: int) -> list[Breach]:
    if not isinstance(text, str) or not text:
        return [Breach(field, f"{where}: required")]
    count = line_chars(text)
    return [Breach(f"{field} ≤ {limit:,} characters", f"{where}: at most {limit:,} characters, got {count:,}")] \
        if count > limit else []


def _size(container: Mapping[str, Any], where: str, what: str, limit: int) -> list[Breach]:
    size = len(compact_json(container))
    return [Breach(f"{what} ≤ {limit // 1000} KB",
                   f"{where}: a {what} is at most {limit // 1000} KB of JSON, got {size:,} bytes")] \
        if size > limit else []

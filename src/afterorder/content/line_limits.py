"""LINE's limits on what one push may carry, checked before a message is stored: LINE refuses a breach
with 400, a permanent failure, so it is caught where the message is written, with an error naming the limit.

From the Messaging API reference: 1–5 message objects per push; a Flex message's ``altText`` at most
1,500 characters; a bubble's JSON at most 30 KB; a carousel at most 12 bubbles and 50 KB of JSON; a
text message at most 5,000 characters; a URI action's ``uri`` at most 1,000 characters.

Sizes are counted conservatively, so what passes here passes at LINE whichever way LINE counts: a KB
is 1,000 bytes of the compact UTF-8 JSON that is sent, and characters are UTF-16 code units (an emoji
counts two).  ``channels/line_limits.py`` (on the LINE channel's branch) holds the same numbers; the
two become one module when the branches meet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

MAX_MESSAGES: Final = 5
MAX_ALT_TEXT: Final = 1_500
MAX_BUBBLE_BYTES: Final = 30_000
MAX_CAROUSEL_BYTES: Final = 50_000
MAX_CAROUSEL_BUBBLES: Final = 12
MAX_TEXT: Final = 5_000
MAX_URI: Final = 1_000


class LineLimitError(ValueError):
    """A LINE message over one of LINE's limits; ``limit`` names it (e.g. ``"altText ≤ 1,500 characters"``)."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"over LINE's limit {limit}: {detail}")
        self.limit = limit


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, as it is sent."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _uris(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        if node.get("type") == "uri" and isinstance(node.get("uri"), str):
            yield node["uri"]
        for value in node.values():
            yield from _uris(value)
    elif isinstance(node, list):
        for value in node:
            yield from _uris(value)


def _check_container(contents: Any, where: str) -> None:
    kind = contents.get("type") if isinstance(contents, Mapping) else None
    if kind == "bubble":
        size = json_size(contents)
        if size > MAX_BUBBLE_BYTES:
            raise LineLimitError("bubble ≤ 30 KB", f"{where}'s bubble is {size:,} bytes of JSON")
    elif kind == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_CAROUSEL_BUBBLES:
            count = len(bubbles) if isinstance(bubbles, list) else 0
            raise LineLimitError("carousel ≤ 12 bubbles", f"{where}'s carousel has {count} bubbles")
        for n, bubble in enumerate(bubbles, start=1):
            _check_container(bubble, f"{where}, bubble {n}")
        size = json_size(contents)
        if size > MAX_CAROUSEL_BYTES:
            raise LineLimitError("carousel ≤ 50 KB", f"{where}'s carousel is {size:,} bytes of JSON")
    else:
        raise LineLimitError("Flex contents", f"{where}: contents must be a bubble or a carousel, not {kind!r}")


def _check_message(message: Any, where: str) -> None:
    if not isinstance(message, Mapping) or not isinstance(message.get("type"), str):
        raise LineLimitError("message object", f"{where} is not a LINE message object (no type)")
    if message["type"] == "flex":
        alt = message.get("altText")
        if not isinstance(alt, str) or not alt.strip():
            raise LineLimitError("altText", f"{where} has no altText")
        if utf16_length(alt) > MAX_ALT_TEXT:
            raise LineLimitError("altText ≤ 1,500 characters", f"{where}'s altText is {utf16_length(alt):,}")
        _check_container(message.get("contents"), where)
    elif message["type"] == "text":
        text = message.get("text")
        if not isinstance(text, str) or not text or utf16_length(text) > MAX_TEXT:
            raise LineLimitError("text 1–5,000 characters", f"{where}'s text is {len(text or '')} characters")
    for uri in _uris(message):
        if len(uri) > MAX_URI:
            raise LineLimitError("uri ≤ 1,000 characters", f"{where} links to a {len(uri):,}-character address")


def check_messages(messages: Sequence[Any]) -> None:
    """Raise :class:`LineLimitError` when ``messages`` (the push's ``messages``) breaks one of LINE's limits."""
    if not 1 <= len(messages) <= MAX_MESSAGES:
        raise LineLimitError("1–5 messages", f"a push carries {len(messages)} messages")
    for n, message in enumerate(messages, start=1):
        _check_message(message, f"message {n}")

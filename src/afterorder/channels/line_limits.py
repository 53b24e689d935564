"""LINE's limits on what one push may carry, as pure checks: the LINE channel refuses a payload over
them before sending it (PERMANENT, the limit named), and the content renderer checks the same ones
when a template loads.

From LINE's Messaging API reference (message objects, Flex Message) and the issue:

* 1–5 message objects per request;
* a text message's ``text`` ≤ 5,000 characters, a Flex message's ``altText`` ≤ 1,500 characters —
  counted as LINE counts them, in UTF-16 code units (an emoji such as 🍎 counts 2);
* a bubble ≤ 30 KB of JSON; a carousel ≤ 12 bubbles and ≤ 50 KB of JSON.  LINE does not say which
  kilobyte it means: read here as 1,000 bytes (the stricter reading, so a card that passes is one LINE
  takes), of the compact UTF-8 JSON the channel sends (:func:`compact_json`);
* LINE notification messages (PNP) take no image, video or audio message.

``problems`` lists every limit a payload breaks (empty when it is fine); ``check`` raises
:class:`LineLimitError` naming them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_MESSAGES = 5
MAX_TEXT_CHARS = 5_000
MAX_ALT_TEXT_CHARS = 1_500
MAX_BUBBLE_BYTES = 30_000
MAX_CAROUSEL_BUBBLES = 12
MAX_CAROUSEL_BYTES = 50_000
PNP_REFUSED_TYPES = frozenset({"image", "video", "audio"})


class LineLimitError(ValueError):
    """A LINE payload breaks one of LINE's limits; the message names each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def compact_json(value: Any) -> bytes:
    """The JSON the LINE channel sends: compact, UTF-8 (not ``\\u`` escapes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def line_chars(text: str) -> int:
    """A text's length as LINE counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def check(messages: object, *, notification: bool = False) -> None:
    """Raise :class:`LineLimitError` if ``messages`` (the request's list) breaks a limit."""
    found = problems(messages, notification=notification)
    if found:
        raise LineLimitError(found)


def problems(messages: object, *, notification: bool = False) -> list[str]:
    """Every limit the list of message objects breaks (``notification``: sent as a PNP message)."""
    if not isinstance(messages, list):
        return ["messages: a list of LINE message objects is required"]
    if not 1 <= len(messages) <= MAX_MESSAGES:
        return [f"messages: 1 to {MAX_MESSAGES} message objects per request, got {len(messages)}"]
    found: list[str] = []
    for index, message in enumerate(messages):
        found += message_problems(message, f"messages[{index}]", notification=notification)
    return found


def message_problems(message: object, where: str = "message", *, notification: bool = False) -> list[str]:
    """The limits one message object breaks."""
    if not isinstance(message, Mapping) or not isinstance(message.get("type"), str):
        return [f"{where}: a message object with a type is required"]
    kind = message["type"]
    if notification and kind in PNP_REFUSED_TYPES:
        return [f"{where}: LINE notification messages take no {kind} message"]
    if kind == "text":
        return _text_problems(message.get("text"), f"{where}.text", MAX_TEXT_CHARS)
    if kind == "flex":
        return flex_problems(message, where)
    return []


def flex_problems(message: Mapping[str, Any], where: str = "message") -> list[str]:
    """The limits a Flex message breaks: its altText, and its bubble or carousel."""
    found = _text_problems(message.get("altText"), f"{where}.altText", MAX_ALT_TEXT_CHARS)
    return found + container_problems(message.get("contents"), f"{where}.contents")


def container_problems(contents: object, where: str = "contents") -> list[str]:
    """The limits a Flex container (a bubble or a carousel of bubbles) breaks."""
    if not isinstance(contents, Mapping):
        return [f"{where}: a bubble or carousel is required"]
    if contents.get("type") == "bubble":
        return _size_problems(contents, where, "a bubble", MAX_BUBBLE_BYTES)
    if contents.get("type") != "carousel":
        return [f"{where}: type must be bubble or carousel"]
    bubbles = contents.get("contents")
    if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_CAROUSEL_BUBBLES:
        count = len(bubbles) if isinstance(bubbles, list) else 0
        return [f"{where}: a carousel holds 1 to {MAX_CAROUSEL_BUBBLES} bubbles, got {count}"]
    found = _size_problems(contents, where, "a carousel", MAX_CAROUSEL_BYTES)
    for index, bubble in enumerate(bubbles):
        found += container_problems(bubble, f"{where}.contents[{index}]") if _is_bubble(bubble) else \
            [f"{where}.contents[{index}]: a carousel holds only bubbles"]
    return found


def _is_bubble(value: object) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "bubble"


def _text_problems(text: object, where: str, limit: int) -> list[str]:
    if not isinstance(text, str) or not text:
        return [f"{where}: required"]
    count = line_chars(text)
    return [f"{where}: at most {limit:,} characters, got {count:,}"] if count > limit else []


def _size_problems(container: Mapping[str, Any], where: str, what: str, limit: int) -> list[str]:
    size = len(compact_json(container))
    return [f"{where}: {what} is at most {limit // 1000} KB of JSON, got {size:,} bytes"] if size > limit else []

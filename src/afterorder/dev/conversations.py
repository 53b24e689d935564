"""What the demo's local LINE and Twilio received, as people read it on a phone: one chat per LINE
user (or hashed phone number, for LINE notification messages) and one thread per phone number,
the conversations with the latest message first, each conversation's messages oldest first.

A LINE push keeps its message objects as LINE took them (the inbox draws them with the previews'
``content/flex_html.py``), with what a phone shows of them besides: the notification line (each
message's ``altText``) and the kinds of message no card is drawn for (a sticker, an image).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from afterorder.channels.line import is_hashed_phone
from afterorder.content.sms_segments import measure
from afterorder.dev.sinks.base import Accepted

MAX_CONVERSATIONS = 200
_ADDRESS = re.compile(r"(https?://[^\s<>\"'　、。]+)")
DRAWN = ("text", "flex")  # the message types drawn as bubbles and cards
Conversation = TypeVar("Conversation", "LineChat", "SmsThread")


@dataclass(frozen=True)
class LinePush:
    at: datetime
    messages: list[Mapping[str, Any]]  # LINE message objects

    @property
    def alt_texts(self) -> list[str]:
        """What the phone's notification shows of each message that has one."""
        return [m["altText"] for m in self.messages if isinstance(m.get("altText"), str) and m["altText"]]

    @property
    def undrawn(self) -> list[str]:
        """The types of the messages no bubble is drawn for."""
        return [str(m.get("type")) for m in self.messages if m.get("type") not in DRAWN]


@dataclass
class LineChat:
    to: str  # a LINE user id, or the SHA-256 of a phone number (a LINE notification message)
    pushes: list[LinePush] = field(default_factory=list)

    @property
    def notification(self) -> bool:
        return is_hashed_phone(self.to)


@dataclass(frozen=True)
class Sms:
    at: datetime
    text: str
    segments: int
    encoding: str  # GSM-7 | UCS-2

    @property
    def parts(self) -> list[tuple[str, bool]]:
        """The text in pieces, each with whether it is a web address (to be shown as a link)."""
        pieces = _ADDRESS.split(self.text)
        return [(piece, index % 2 == 1) for index, piece in enumerate(pieces) if piece]


@dataclass
class SmsThread:
    to: str  # E.164
    texts: list[Sms] = field(default_factory=list)


def line_chats(accepted: Iterable[Accepted], limit: int = MAX_CONVERSATIONS) -> list[LineChat]:
    chats: dict[str, LineChat] = {}
    for item in accepted:
        chats.setdefault(item.to, LineChat(item.to)).pushes.append(
            LinePush(item.received_at, _objects(item.payload)))
    return _latest_first(chats.values(), lambda c: c.pushes[-1].at)[:limit]


def sms_threads(accepted: Iterable[Accepted], limit: int = MAX_CONVERSATIONS) -> list[SmsThread]:
    threads: dict[str, SmsThread] = {}
    for item in accepted:
        text = item.payload if isinstance(item.payload, str) else str(item.payload)
        length = measure(text)
        threads.setdefault(item.to, SmsThread(item.to)).texts.append(
            Sms(item.received_at, text, length.segments, length.encoding))
    return _latest_first(threads.values(), lambda t: t.texts[-1].at)[:limit]


def _objects(payload: Any) -> list[Mapping[str, Any]]:
    return [m for m in payload if isinstance(m, Mapping)] if isinstance(payload, list) else []


def _latest_first(conversations: Iterable[Conversation], last: Callable[[Conversation], datetime],
                  ) -> list[Conversation]:
    return sorted(conversations, key=last, reverse=True)

"""Turning a rendered message into the exact bytes we hand to a mail server.

The bytes are built once, when the message is queued, and stored in the outbox: a retry after
a crash resends the same bytes with the same Message-ID.

The message is written directly rather than through ``email.message.EmailMessage`` (which costs
several milliseconds a message): a ``multipart/alternative`` with a plain-text and an HTML part —
and, for a message with an AMP for Email document (``RenderedMessage.amp``), a ``text/x-amp-html``
part between them, the order AMP for Email asks for (a client without AMP shows the HTML part,
whose bytes are the same with or without it) —, each UTF-8 in base64 with 76-character lines, CRLF
line endings throughout, header values that are not plain ASCII as RFC 2047 encoded-words (UTF-8,
B encoding), header lines folded at 78 characters, and a boundary derived from the Message-ID so
the same message always has the same bytes.  Recipient addresses that are not ASCII are written
as UTF-8 (RFC 6532; the channel then asks the server for SMTPUTF8).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from email.utils import format_datetime

from afterorder.domain import RenderedMessage, StoreSnapshot

MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be at most 78 characters
_WORD_OVERHEAD = len("=?utf-8?b??=")
_MAX_WORD_BYTES = 45  # 60 base64 characters: a 72-character encoded-word, 73 with the folding space
_PLAIN_TEXT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")  # printable ASCII words, single spaces
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")  # printable ASCII except ':'
_LONGEST_PLAIN_TOKEN = 900  # a longer unbroken run of text is encoded so no line passes 998 bytes


def message_id_for(store: StoreSnapshot, idempotency_key: str) -> str:
    """The same key always gives the same Message-ID."""
    domain = store.email_from.rsplit("@", 1)[-1]
    digest = hashlib.sha256(f"{store.slug}/{idempotency_key}".encode()).hexdigest()[:24]
    return f"<ao.{digest}@{domain}>"


def build_email(
    store: StoreSnapshot, *, to: str, rendered: RenderedMessage, message_id: str, category: str,
    date: datetime, extra_headers: dict[str, str] | None = None,
) -> bytes:
    boundary = "=_ao_" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
    headers = [
        _fold("From", [*_phrase(store.name), f"<{_bare(store.email_from)}>"]),
        _fold("Reply-To", [_bare(store.reply_to)]),
        _fold("To", [_bare(to)]),
        unstructured("Subject", rendered.subject),
        _fold("Date", [format_datetime(date)]),
        _fold("Message-ID", [_bare(message_id)]),
        unstructured("X-Afterorder-Category", category),
    ]
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        headers.append(unstructured(name, value))
    headers.append("MIME-Version: 1.0")
    headers.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"')
    head = "\r\n".join(headers).encode()
    return b"".join((
        head, b"\r\n\r\n",
        _part(boundary, "text/plain", rendered.text),
        _part(boundary, "text/x-amp-html", rendered.amp) if rendered.amp is not None else b"",
        _part(boundary, "text/html", rendered.html),
        f"--{boundary}--\r\n".encode("ascii"),
    ))


def unstructured(name: str, value: str) -> str:
    """``Name: value`` folded at 78 characters; encoded-words when the value is not plain ASCII."""
    _no_line_breaks(value)
    if _PLAIN_TEXT.fullmatch(value) and "=?" not in value:
        tokens = value.split(" ")
        if max(map(len, tokens)) <= _LONGEST_PLAIN_TOKEN:
            return _fold(name, tokens)
    return _fold(name, encoded_words(value, first_room=MAX_LINE - len(name) - 2))


def encoded_words(text: str, *, first_room: int = MAX_LINE) -> list[str]:
    """``text`` as RFC 2047 B-encoded words, never splitting a character between two words.

    The first word fits in ``first_room`` characters where it can; the others fit on a folded line.
    """
    words: list[str] = []
    limit = min(_MAX_WORD_BYTES, max((first_room - _WORD_OVERHEAD) // 4 * 3, 6))
    chunk: list[bytes] = []
    size = 0
    for char in text:
        encoded = char.encode("utf-8")
        if size + len(encoded) > limit and chunk:
            words.append(_word(b"".join(chunk)))
            chunk, size, limit = [], 0, _MAX_WORD_BYTES
        chunk.append(encoded)
        size += len(encoded)
    if chunk:
        words.append(_word(b"".join(chunk)))
    return words


def _word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _phrase(name: str) -> list[str]:
    """A display name: as is when it is plain, quoted when it has specials, else encoded-words."""
    _no_line_breaks(name)
    if not name:
        return []
    if _PLAIN_PHRASE.fullmatch(name) and "=?" not in name:
        return name.split(" ")
    if name.isascii() and name.isprintable() and "=?" not in name and len(name) <= _LONGEST_PLAIN_TOKEN:
        return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return encoded_words(name, first_room=MAX_LINE - len("From: "))


def _bare(value: str) -> str:
    """An address or message id, written as given (after checking it cannot break the header)."""
    _no_line_breaks(value)
    if not value or " " in value or "\t" in value:
        raise ValueError(f"not a single address or id: {value!r}")
    return value


def _no_line_breaks(value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header values may not contain line breaks: {value!r}")


def _fold(name: str, tokens: Iterable[str]) -> str:
    """Join ``tokens`` with single spaces after ``Name:``, breaking lines before a token that would
    pass 78 characters (a token longer than a line gets a line of its own)."""
    lines: list[str] = []
    line = name + ":"
    fresh = True  # nothing but the header name (or the folding space) on the line yet
    for token in tokens:
        if not fresh and len(line) + 1 + len(token) > MAX_LINE:
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
        fresh = False
    lines.append(line)
    return "\r\n".join(lines)


def _part(boundary: str, content_type: str, text: str) -> bytes:
    """One body part: the text in canonical form (CRLF line ends, ending with one), UTF-8, base64."""
    body = b"\r\n".join(text.encode("utf-8").splitlines()) + b"\r\n"
    raw = base64.b64encode(body)
    encoded = b"\r\n".join([raw[i:i + 76] for i in range(0, len(raw), 76)]) + b"\r\n"
    head = (f"--{boundary}\r\nContent-Type: {content_type}; charset=\"utf-8\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n")
    return head.encode("ascii") + encoded

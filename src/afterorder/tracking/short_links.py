"""Short signed links for SMS: ``{base}/c/{code}``, about 45 characters where a click token takes 150.

The code names the link instead of carrying it: the store, the message's idempotency key and the
link's place among the message's links.  The redirect finds the target in the stored message (an SMS
payload in ``outbox_bodies`` is ``{"text", "params", "links": [targets]}``), so no code can point
anywhere the store did not send (no open redirect), and a message erased for privacy takes its
links with it (404).  A MAC of the rest with the store's signing key, cut to 48 bits, makes an
altered or made-up code fail (400): guessing one takes 2^47 requests on average.

A code is base64url of::

    flags       1 byte: bit 0 the key is ``run:R:step:S`` (written as two numbers), bit 1 record the click
    store id    LEB128
    index       LEB128, the link's place in the message's ``links``
    key         R, S as LEB128; or the key's UTF-8 length (LEB128) and bytes
    MAC         6 bytes of HMAC-SHA256(store key, "short-link" \\0 everything before it)

Clicks are recorded only when the store tracks clicks and the link does not lead to afterorder itself
(a survey, the preference centre), as for email.  Store 1, run 123456, step 2: an 18-character code.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import outbox_bodies
from afterorder.signing import BadToken, Signer

PURPOSE: Final = "short-link"
PATH: Final = "/c/"
MAC_BYTES: Final = 6
MAX_CODE: Final = 400
_RUN_STEP: Final = re.compile(r"run:(\d{1,18}):step:(\d{1,9})")
_COMPACT_KEY: Final = 0b01
_RECORD: Final = 0b10


@dataclass(frozen=True)
class ShortLink:
    store_id: int
    key: str  # the message's idempotency key
    index: int  # the link's place in the message's links
    record: bool  # a click is recorded


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def varint(self) -> int:
        number = shift = 0
        while True:
            if self._at >= len(self._data) or shift > 63:
                raise BadToken("the link is cut short")
            byte = self._data[self._at]
            self._at += 1
            number |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return number

    def take(self, size: int) -> bytes:
        if self._at + size > len(self._data):
            raise BadToken("the link is cut short")
        found = self._data[self._at : self._at + size]
        self._at += size
        return found

    def done(self) -> bool:
        return self._at == len(self._data)


def _body(link: ShortLink) -> bytes:
    compact = _RUN_STEP.fullmatch(link.key)
    flags = (_COMPACT_KEY if compact else 0) | (_RECORD if link.record else 0)
    if compact:
        key = _varint(int(compact.group(1))) + _varint(int(compact.group(2)))
    else:
        raw = link.key.encode()
        key = _varint(len(raw)) + raw
    return bytes([flags]) + _varint(link.store_id) + _varint(link.index) + key


def _mac(signer: Signer, body: bytes) -> bytes:
    return signer.digest(PURPOSE, body)[:MAC_BYTES]


def encode(signer: Signer, link: ShortLink) -> str:
    body = _body(link)
    return base64.urlsafe_b64encode(body + _mac(signer, body)).rstrip(b"=").decode("ascii")


def short_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}{code}"


def _unpack(code: str) -> tuple[ShortLink, bytes, bytes]:
    if not 0 < len(code) <= MAX_CODE or not re.fullmatch(r"[A-Za-z0-9_-]+", code):
        raise BadToken("the link is not readable")
    try:
        data = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    except (ValueError, binascii.Error) as exc:
        raise BadToken("the link is not readable") from exc
    if len(data) <= MAC_BYTES:
        raise BadToken("the link is cut short")
    body, mac = data[:-MAC_BYTES], data[-MAC_BYTES:]
    reader = _Reader(body)
    flags = reader.take(1)[0]
    store_id, index = reader.varint(), reader.varint()
    if flags & _COMPACT_KEY:
        key = f"run:{reader.varint()}:step:{reader.varint()}"
    else:
        try:
            key = reader.take(reader.varint()).decode()
        except UnicodeDecodeError as exc:
            raise BadToken("the link is not readable") from exc
    if not reader.done() or flags & ~(_COMPACT_KEY | _RECORD) or not 0 < store_id < 2**63:
        raise BadToken("the link is not readable")
    return ShortLink(store_id, key, index, bool(flags & _RECORD)), body, mac


def peek(code: str) -> ShortLink:
    """What a code claims (unverified: only to pick the store whose key verifies it); BadToken if unreadable."""
    return _unpack(code)[0]


def verify(signer: Signer, code: str) -> ShortLink:
    """The link a code names, when the store's key made it; BadToken otherwise."""
    link, body, mac = _unpack(code)
    if not hmac.compare_digest(mac, _mac(signer, body)) or base64.urlsafe_b64encode(body + mac).rstrip(
            b"=").decode("ascii") != code:
        raise BadToken("the link's signature does not match")
    return link


async def target(conn: AsyncConnection, store_id: int, key: str, index: int) -> str | None:
    """The web address the message ``key`` holds at ``index`` (its stored ``links``); None if there is none."""
    data = (await conn.execute(select(outbox_bodies.c.data).where(
        outbox_bodies.c.store_id == store_id, outbox_bodies.c.idempotency_key == key))).scalar()
    try:
        links = json.loads(data).get("links") if data else None
    except (ValueError, AttributeError):
        return None
    if not isinstance(links, list) or not 0 <= index < len(links) or not isinstance(links[index], str):
        return None
    url: str = links[index]
    return url if url.startswith(("https://", "http://")) else None

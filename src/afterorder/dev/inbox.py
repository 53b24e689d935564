"""The development SMTP server's inbox: received messages kept in memory, parsed for people to read."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

DEFAULT_CAPACITY = 5_000


@dataclass(frozen=True)
class ReceivedMail:
    id: int
    received_at: datetime
    envelope_from: str
    recipients: tuple[str, ...]
    message_id: str | None  # the Message-ID header as sent, angle brackets included
    subject: str  # RFC 2047 decoded
    html: str | None
    text: str | None
    headers: list[tuple[str, str]]  # decoded, in message order, repeated names kept
    raw: bytes


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DevInbox:
    """The last ``capacity`` messages received, newest first.  Belongs to one asyncio loop."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, clock: Callable[[], datetime] = _utc_now) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._clock = clock
        self._mails: OrderedDict[int, ReceivedMail] = OrderedDict()
        self._last_id = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def add(self, envelope_from: str, recipients: tuple[str, ...], raw: bytes) -> ReceivedMail:
        self._last_id += 1
        mail = parse_mail(self._last_id, self._clock(), envelope_from, recipients, raw)
        self._mails[mail.id] = mail
        while len(self._mails) > self.capacity:
            self._mails.popitem(last=False)
        for needed, waiter in self._waiters:
            if len(self._mails) >= needed and not waiter.done():
                waiter.set_result(None)
        return mail

    def all(self) -> list[ReceivedMail]:
        return list(reversed(self._mails.values()))

    def get(self, mail_id: int) -> ReceivedMail | None:
        return self._mails.get(mail_id)

    def count(self) -> int:
        return len(self._mails)

    def message_ids(self) -> list[str]:
        return [mail.message_id for mail in self.all() if mail.message_id is not None]

    def clear(self) -> None:
        self._mails.clear()

    async def wait_for(self, count: int, timeout: float) -> list[ReceivedMail]:  # noqa: ASYNC109
        """Wait until the inbox holds at least ``count`` messages; return them all, newest first.

        Raises TimeoutError after ``timeout`` seconds.
        """
        if self.count() < count:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (count, waiter)
            self._waiters.append(entry)
            try:
                async with asyncio.timeout(timeout):
                    await waiter
            except TimeoutError:
                raise TimeoutError(
                    f"dev inbox holds {self.count()} message(s) after {timeout}s, expected {count}"
                ) from None
            finally:
                self._waiters.remove(entry)
        return self.all()


def parse_mail(
    mail_id: int, received_at: datetime, envelope_from: str, recipients: tuple[str, ...], raw: bytes
) -> ReceivedMail:
    message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    message_id = message.get("Message-ID")
    return ReceivedMail(
        id=mail_id,
        received_at=received_at,
        envelope_from=envelope_from,
        recipients=recipients,
        message_id=str(message_id).strip() if message_id is not None else None,
        subject=str(message.get("Subject", "")),
        html=_body(message, "html"),
        text=_body(message, "plain"),
        headers=[(name, str(value)) for name, value in message.items()],
        raw=raw,
    )


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if not isinstance(part, EmailMessage):
        return None
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, KeyError):  # unknown charset or broken transfer encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else None
    return content if isinstance(content, str) else None

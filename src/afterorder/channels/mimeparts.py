"""Reading an outbox email back into its parts, for the email APIs that take no raw MIME.

SendGrid (v3 ``mail/send``) and Postmark (``/email/batch``) want sender, subject, bodies and extra
headers as JSON fields; the outbox holds the complete RFC 5322 bytes (``afterorder.channels.email.mime``).  This
module reads those bytes once per send with the standard library's parser (the compat32 policy:
about a tenth of a millisecond, against several for the modern one) and gives back:

* the sender and reply-to mailboxes, display names decoded (RFC 2047 encoded-words → text);
* the subject, decoded;
* the first ``text/plain`` and the first ``text/html`` part, decoded to text, and the AMP for Email
  part (``text/x-amp-html``) when there is one: SendGrid sends it on, Postmark (which takes no AMP)
  leaves it out and its recipients see the HTML part as every client without AMP does;
* the headers a provider should carry on unchanged — ``Message-ID``, ``List-Unsubscribe``,
  ``List-Unsubscribe-Post`` and every ``X-`` header — exactly as written (encoded-words stay
  encoded, so the value is plain ASCII), unfolded onto one line.

Everything else (Date, MIME-Version, Content-*, a DKIM-Signature made for these bytes) is the
provider's to write: it builds its own MIME, and a signature over bytes it does not send would fail.
A message this cannot read (no From, no text or HTML part, an attachment) raises ``ValueError``
naming what is wrong; the channel refuses that message (PERMANENT) with the reason.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

KEPT = frozenset({"message-id", "list-unsubscribe", "list-unsubscribe-post"})
_FOLD = re.compile(r"\r?\n(?=[ \t])")


@dataclass(frozen=True)
class Mailbox:
    address: str
    name: str = ""


@dataclass(frozen=True)
class EmailParts:
    message_id: str
    sender: Mailbox
    reply_to: tuple[Mailbox, ...]
    subject: str
    text: str | None
    html: str | None
    headers: tuple[tuple[str, str], ...]  # (name, value) to carry on, in the message's order
    amp: str | None = None


def read_email(data: bytes) -> EmailParts:
    """The parts of ``data`` (RFC 5322 bytes; header fields may be UTF-8, RFC 6532)."""
    message = email.message_from_string(data.decode("utf-8", "surrogateescape"))
    senders = _mailboxes(message, "From")
    if not senders:
        raise ValueError("the message has no From address")
    text, html, amp = _bodies(message)
    if text is None and html is None:
        raise ValueError("the message has neither a text/plain nor a text/html part")
    return EmailParts(
        message_id=_unfolded(message.get("Message-ID", "")).strip(),
        sender=senders[0],
        reply_to=tuple(_mailboxes(message, "Reply-To")),
        subject=_decoded(message.get("Subject", "")),
        text=text,
        html=html,
        headers=tuple((name, _unfolded(value).strip()) for name, value in message.items() if _kept(name)),
        amp=amp,
    )


def _kept(name: str) -> bool:
    lowered = name.lower()
    return lowered in KEPT or lowered.startswith("x-")


def _unfolded(value: str) -> str:
    return _FOLD.sub("", value)


def _decoded(value: str) -> str:
    return str(make_header(decode_header(_unfolded(value)))).strip()


def _mailboxes(message: Message, name: str) -> list[Mailbox]:
    pairs = getaddresses([_unfolded(v) for v in message.get_all(name, [])])
    return [Mailbox(address, _decoded(display)) for display, address in pairs if address]


def _bodies(message: Message) -> tuple[str | None, str | None, str | None]:
    text: str | None = None
    html: str | None = None
    amp: str | None = None
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if part.get_content_disposition() == "attachment":
            raise ValueError(f"the message has an attachment ({kind}); only a text and an HTML body are sent")
        if kind == "text/plain" and text is None:
            text = _body(part)
        elif kind == "text/html" and html is None:
            html = _body(part)
        elif kind == "text/x-amp-html" and amp is None:
            amp = _body(part)
        else:
            raise ValueError(f"the message has a {kind} part besides its text and HTML bodies")
    return text, html, amp


def _body(part: Message) -> str:
    encoding = part.get("Content-Transfer-Encoding", "7bit").strip().lower()
    if encoding in ("base64", "quoted-printable"):
        raw = part.get_payload(decode=True)
        assert isinstance(raw, bytes)
        charset = part.get_content_charset() or "us-ascii"
        try:
            return raw.decode(charset, "replace")
        except LookupError:
            raise ValueError(f"the {part.get_content_type()} part has an unknown charset {charset!r}") from None
    payload = part.get_payload()  # 7bit / 8bit: already text (the bytes were read as UTF-8)
    assert isinstance(payload, str)
    return payload

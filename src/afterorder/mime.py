"""Turning a rendered message into the exact bytes we hand to a mail server.

The bytes are built once, when the message is queued, and stored in the outbox: a retry after
a crash resends the same bytes with the same Message-ID.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from afterorder.domain import RenderedMessage, StoreSnapshot


def message_id_for(store: StoreSnapshot, idempotency_key: str) -> str:
    """The same key always gives the same Message-ID."""
    domain = store.email_from.rsplit("@", 1)[-1]
    digest = hashlib.sha256(f"{store.slug}/{idempotency_key}".encode()).hexdigest()[:24]
    return f"<ao.{digest}@{domain}>"


def build_email(
    store: StoreSnapshot, *, to: str, rendered: RenderedMessage, message_id: str, category: str,
    date: datetime, extra_headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=store.name, addr_spec=store.email_from)
    message["Reply-To"] = store.reply_to
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["X-Afterorder-Category"] = category
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return bytes(message)

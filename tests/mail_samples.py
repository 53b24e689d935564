"""Outbox emails as afterorder builds them (``afterorder.channels.email.mime``), for the email API channels' tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from afterorder.channels.base import OutgoingMessage
from afterorder.channels.email.mime import build_email
from afterorder.domain import RenderedMessage, StoreSnapshot

STORE = StoreSnapshot(slug="sakura", name="さくら茶舗, 京都本店", email_from="shop@sakura-tea.example",
                      reply_to="help@sakura-tea.example", country="JP", locale="ja", timezone="Asia/Tokyo",
                      currency="JPY")
SUBJECT = "【ご注文ありがとうございます】ご注文番号 #1001 の確認"
TEXT = "山田花子様\nご注文ありがとうございます。"
HTML = "<html><body><p>山田花子様</p><p>ご注文ありがとうございます。</p></body></html>"
UNSUBSCRIBE = "<https://sakura-tea.example/u/abc>, <mailto:unsubscribe+abc@sakura-tea.example?subject=unsubscribe>"


def outgoing_email(to: str = "hanako@example.jp", *, category: str = "transactional",
                   extra_headers: dict[str, str] | None = None, prefix: bytes = b"") -> OutgoingMessage:
    """A rendered order confirmation to ``to``; ``prefix`` goes before the headers (a DKIM-Signature)."""
    message_id = f"<ao.{uuid.uuid4().hex[:24]}@sakura-tea.example>"
    headers = {"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
               **(extra_headers or {})}
    data = build_email(STORE, to=to, rendered=RenderedMessage(subject=SUBJECT, html=HTML, text=TEXT),
                       message_id=message_id, category=category, date=datetime.now(UTC), extra_headers=headers)
    return OutgoingMessage(message_id=message_id, envelope_from="bounces@sakura-tea.example", recipients=(to,),
                           data=prefix + data, category=category)

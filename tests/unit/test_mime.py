"""The bytes we hand to a mail server read back, with the standard library's parser, as what we rendered."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from afterorder.channels.email.mime import build_email, message_id_for
from afterorder.domain import RenderedMessage, StoreSnapshot

STORE = StoreSnapshot(
    slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="support@kumo.example", country="JP",
    locale="ja", timezone="Asia/Tokyo", currency="JPY", postal_address="京都府京都市下京区 1-2-3",
    support_email="support@kumo.example", support_phone="", support_url="", brand_color="#1f6feb", logo_url="",
    base_url="http://127.0.0.1:8000",
)
SUBJECT = "【雲茶舗】ご注文ありがとうございます（ご注文番号：#K1）— 京焼の急須と煎茶のセットをお届けします"
TEXT = ("山田 太郎 様\n\nこの度は雲茶舗をご利用いただき、誠にありがとうございます。\n"
        + "■ 京焼 急須 × 1  ¥15,000\n" * 40)
HTML = ('<!DOCTYPE html>\n<html lang="ja"><body><p style="color:#1f2328">'
        + "ありがとうございます。" * 200 + "</p></body></html>\n")
WHEN = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def build(store: StoreSnapshot = STORE, subject: str = SUBJECT, **kw: object) -> bytes:
    return build_email(store, to="taro@example.com", rendered=RenderedMessage(subject=subject, html=HTML, text=TEXT),
                       message_id=message_id_for(store, "run:1:step:0"), category="transactional", date=WHEN,
                       **kw)  # type: ignore[arg-type]


def test_a_japanese_message_reads_back_as_rendered() -> None:
    data = build()
    message = parse(data)
    assert message["Subject"] == SUBJECT
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("雲茶舗", "shop@kumo.example")
    assert message["Reply-To"] == "support@kumo.example"
    assert message["To"] == "taro@example.com"
    assert message["Message-ID"] == message_id_for(STORE, "run:1:step:0")
    assert message["X-Afterorder-Category"] == "transactional"
    assert message["Date"].datetime == WHEN
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content().replace("\r\n", "\n") == HTML
    assert plain["Content-Transfer-Encoding"] == html["Content-Transfer-Encoding"] == "base64"


def test_every_line_is_short_and_ends_with_crlf() -> None:
    data = build()
    assert data.isascii()
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert all(len(line) <= 998 for line in lines)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), "headers are folded at 78 characters"
    body = data.split(b"\r\n\r\n", 1)[1]
    encoded = [line for line in body.split(b"\r\n") if line and not line.startswith((b"--", b"Content-"))]
    assert encoded and all(len(line) <= 76 for line in encoded), "base64 in lines of 76"


def test_the_same_message_gives_the_same_bytes() -> None:
    assert build() == build()
    other = build_email(STORE, to="taro@example.com", rendered=RenderedMessage(subject=SUBJECT, html=HTML, text=TEXT),
                        message_id=message_id_for(STORE, "run:2:step:0"), category="transactional", date=WHEN)
    assert other != build()


def test_plain_ascii_headers_stay_readable_and_specials_are_quoted() -> None:
    store = StoreSnapshot(**{**STORE.__dict__, "name": 'Harbor "Goods", Inc.', "email_from": "hello@harbor.example"})
    subject = "Thanks for your order #1001 from Harbor Goods, we are packing it now and will write again soon"
    data = build(store, subject, extra_headers={"List-Unsubscribe": "<https://harbor.example/u/abc>",
                                                "X-Note": "déjà vu"})
    message = parse(data)
    assert message["Subject"] == subject
    assert b"Subject: Thanks for your order" in data, "an ASCII subject is not encoded"
    [sender] = message["From"].addresses
    assert sender.display_name == 'Harbor "Goods", Inc.'
    assert message["List-Unsubscribe"] == "<https://harbor.example/u/abc>"
    assert message["X-Note"] == "déjà vu"


def test_a_header_value_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line breaks"):
        build(subject="Hello\r\nBcc: someone@example.com")

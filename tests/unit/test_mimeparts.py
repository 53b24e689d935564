"""Reading an outbox email back into the fields SendGrid and Postmark take."""

from __future__ import annotations

import pytest

from afterorder.channels.mimeparts import Mailbox, read_email
from tests.mail_samples import HTML, SUBJECT, TEXT, UNSUBSCRIBE, outgoing_email

DKIM = b"DKIM-Signature: v=1; a=rsa-sha256; d=sakura-tea.example; s=ao;\r\n b=c2lnbmF0dXJl\r\n"


def test_sender_subject_and_bodies_read_back_decoded() -> None:
    message = outgoing_email()

    parts = read_email(message.data)

    assert parts.sender == Mailbox("shop@sakura-tea.example", "さくら茶舗, 京都本店")
    assert parts.reply_to == (Mailbox("help@sakura-tea.example"),)
    assert parts.subject == SUBJECT
    assert parts.text is not None and parts.text.replace("\r\n", "\n").strip() == TEXT
    assert parts.html is not None and parts.html.strip() == HTML
    assert parts.message_id == message.message_id


def test_the_headers_a_provider_carries_on_are_kept_as_written() -> None:
    message = outgoing_email(extra_headers={"X-Campaign": "秋の新茶"}, prefix=DKIM)

    headers = dict(read_email(message.data).headers)

    assert headers["Message-ID"] == message.message_id
    assert headers["List-Unsubscribe"] == UNSUBSCRIBE  # folded in the MIME, one line here
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["X-Afterorder-Category"] == "transactional"
    assert headers["X-Campaign"].startswith("=?utf-8?b?") and headers["X-Campaign"].isascii()
    assert not {"DKIM-Signature", "Date", "MIME-Version", "Content-Type", "From", "To", "Subject"} & set(headers)


def test_a_plain_text_message_has_no_html() -> None:
    data = (b"From: Shop <shop@example.com>\r\nTo: a@example.com\r\nSubject: Hi\r\nMessage-ID: <x@example.com>\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + "ありがとう\r\n".encode())

    parts = read_email(data)

    assert (parts.text, parts.html) == ("ありがとう\r\n", None)


def test_a_message_without_from_is_refused() -> None:
    with pytest.raises(ValueError, match="no From"):
        read_email(b"To: a@example.com\r\nSubject: Hi\r\n\r\nhello\r\n")


def test_an_attachment_is_refused_by_name() -> None:
    data = (b"From: shop@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nx\r\n"
            b"--b--\r\n")

    with pytest.raises(ValueError, match=r"attachment \(application/pdf\)"):
        read_email(data)

"""How a message body is framed after DATA: CRLF line ends, dot-stuffing, the terminator."""

from __future__ import annotations

import pytest

from afterorder.channels.smtpwire import data_for_wire


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"Subject: x\r\n\r\nhello\r\n", b"Subject: x\r\n\r\nhello\r\n.\r\n"),
        (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
        (b".first\r\n.second\r\n", b"..first\r\n..second\r\n.\r\n"),
        (b"a.b\r\nc.\r\n", b"a.b\r\nc.\r\n.\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
        (b"a\rb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
        (b"a\n\rb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"no newline", b"no newline\r\n.\r\n"),
        (b"", b".\r\n"),
    ],
)
def test_body_framing(data: bytes, wire: bytes) -> None:
    assert data_for_wire(data) == wire


def test_a_dotted_line_after_many_dots_is_still_stuffed() -> None:
    data = b"".join(b"sentence %d. another.\r\n" % i for i in range(100)) + b".late\r\n"

    assert data_for_wire(data) == data.replace(b"\r\n.late", b"\r\n..late") + b".\r\n"

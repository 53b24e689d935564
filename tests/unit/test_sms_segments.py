"""SMS length: the encoding a text needs and the segments it costs, against worked examples
(3GPP TS 23.038: GSM-7 160 / 153 per part, an extension character two septets; UCS-2 70 / 67 per part
in UTF-16 code units, an emoji two; a two-unit character never split between parts)."""

from __future__ import annotations

import pytest

from afterorder.content.sms_segments import GSM_BASIC, GSM_EXTENSION, encoding_of, measure


def test_the_alphabets_are_complete() -> None:
    assert len(GSM_BASIC) == 127  # 128 codes, one of them the escape to the extension table
    assert len(GSM_EXTENSION) == 10
    assert not GSM_BASIC & GSM_EXTENSION


@pytest.mark.parametrize(("text", "encoding"), [
    ("Your order 1001 has shipped.", "GSM-7"),
    ("Café, ¥100, £5, Ñoño, Ä§Ü@ è", "GSM-7"),  # in the default alphabet
    ("{[~]}|^\\€", "GSM-7"),  # the extension table
    ("ça", "UCS-2"),  # only the capital Ç is in the alphabet
    ("Naïve", "UCS-2"),
    ("Ñandú", "UCS-2"),  # ù is in the alphabet, ú is not
    ("It’s here", "UCS-2"),  # a typographic apostrophe is not GSM
    ("ご注文ありがとうございます", "UCS-2"),
    ("您的订单已发货", "UCS-2"),
    ("Thanks 😀", "UCS-2"),
])
def test_encoding(text: str, encoding: str) -> None:
    assert encoding_of(text) == encoding


@pytest.mark.parametrize(("text", "units", "segments"), [
    ("", 0, 0),
    ("Hello", 5, 1),
    ("a" * 160, 160, 1),
    ("a" * 161, 161, 2),
    ("a" * 306, 306, 2),  # 2 × 153
    ("a" * 307, 307, 3),
    ("€" * 80, 160, 1),  # every € is two septets
    ("€" * 81, 162, 2),
    ("a" * 159 + "€", 161, 2),  # one septet too many for a single message
    # 306 septets fit two parts of 153 only if the € may be split: it may not, so 152 | € 151 | 1
    ("a" * 152 + "€" + "a" * 152, 306, 3),
])
def test_gsm7_segments(text: str, units: int, segments: int) -> None:
    measured = measure(text)
    assert (measured.encoding, measured.units, measured.segments) == ("GSM-7", units, segments)


@pytest.mark.parametrize(("text", "units", "segments"), [
    ("こんにちは", 5, 1),
    ("あ" * 70, 70, 1),
    ("あ" * 71, 71, 2),
    ("あ" * 134, 134, 2),  # 2 × 67
    ("あ" * 135, 135, 3),
    ("😀" * 35, 70, 1),  # an emoji is two UTF-16 code units
    ("😀" * 36, 72, 2),
    ("a" * 66 + "😀" + "a" * 66, 134, 3),  # the emoji does not fit the first part's last unit
    ("Hi 😀", 5, 1),
])
def test_ucs2_segments(text: str, units: int, segments: int) -> None:
    measured = measure(text)
    assert (measured.encoding, measured.units, measured.segments) == ("UCS-2", units, segments)


def test_a_japanese_shipping_notice_with_a_short_link() -> None:
    text = ("【雲茶舗】ご注文（1001）の商品を発送いたしました。\nお問い合わせ番号：1234-5678-9012\n"
            "配送状況：https://ao.kumo.example/c/AwwAh61LA8IJfJoXRg")
    measured = measure(text)
    assert measured.encoding == "UCS-2" and measured.units == len(text) and measured.segments == 2

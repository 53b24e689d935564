"""How LINE messages are addressed: the hashed phone of a LINE notification message, its delivery
tag, the retry key of a push."""

from __future__ import annotations

import uuid

import pytest

from afterorder.channels.base import ChannelKind, OutgoingMessage
from afterorder.channels.line import delivery_tag, is_hashed_phone, phone_hash


def test_phone_hash_matches_lines_test_vector() -> None:
    assert phone_hash("+818000001234") == "d41e0ad70dddfeb68f149ad6fc61574b9c5780ab7bcb2fba5517771ffbb2409c"
    assert is_hashed_phone(phone_hash("+818000001234"))


@pytest.mark.parametrize("number", ["080-0000-1234", "+81 80 0000 1234", "818000001234", "+81-80-0000-1234", ""])
def test_phone_hash_takes_only_e164(number: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        phone_hash(number)


def test_delivery_tag_is_stable_per_message_and_within_lines_16_to_100_characters() -> None:
    tag = delivery_tag("<a1@sakura-tea.example>")

    assert tag == delivery_tag("<a1@sakura-tea.example>")
    assert tag != delivery_tag("<a2@sakura-tea.example>")
    assert 16 <= len(tag) <= 100
    assert not is_hashed_phone(tag)  # never mistaken for the phone hash LINE reports without a tag


def test_the_retry_key_is_a_uuid_stable_per_message() -> None:
    first = OutgoingMessage("<a1@sakura-tea.example>", "", ("U" + "0" * 32,), b"{}", ChannelKind.LINE)
    again = OutgoingMessage("<a1@sakura-tea.example>", "", ("U" + "0" * 32,), b"{}", ChannelKind.LINE)

    assert str(uuid.UUID(first.retry_key)) == first.retry_key == again.retry_key

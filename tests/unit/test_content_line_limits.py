"""LINE's limits on a push, each breach named (a bubble ≤ 30 KB of JSON, a carousel ≤ 12 bubbles and
50 KB, altText ≤ 1,500 characters, 1–5 messages, a link ≤ 1,000 characters)."""

from __future__ import annotations

from typing import Any

import pytest

from afterorder.content.line_limits import LineLimitError, check_messages, json_size


def bubble(text: str = "hello", uri: str = "https://shop.example/") -> dict[str, Any]:
    return {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": text, "wrap": True},
        {"type": "button", "action": {"type": "uri", "label": "Open", "uri": uri}}]}}


def flex(contents: dict[str, Any], alt: str = "Your order has shipped") -> dict[str, Any]:
    return {"type": "flex", "altText": alt, "contents": contents}


def sized(target: int) -> dict[str, Any]:
    """A bubble of exactly ``target`` bytes of compact JSON."""
    found = bubble("")
    return bubble("x" * (target - json_size(found)))


def limit_of(messages: list[Any]) -> str:
    with pytest.raises(LineLimitError) as caught:
        check_messages(messages)
    assert caught.value.limit in str(caught.value)
    return caught.value.limit


def test_a_card_within_the_limits_passes() -> None:
    check_messages([flex(sized(30_000))])
    check_messages([flex(bubble(), alt="😀" * 750)])  # 1,500 UTF-16 units
    check_messages([flex({"type": "carousel", "contents": [bubble()] * 12})] * 5)


def test_each_limit_is_named() -> None:
    assert limit_of([flex(sized(30_001))]) == "bubble ≤ 30 KB"
    assert limit_of([flex({"type": "carousel", "contents": [bubble()] * 13})]) == "carousel ≤ 12 bubbles"
    assert limit_of([flex({"type": "carousel", "contents": [sized(4_500)] * 12})]) == "carousel ≤ 50 KB"
    assert limit_of([flex(bubble(), alt="a" * 1_501)]) == "altText ≤ 1,500 characters"
    assert limit_of([flex(bubble(), alt="😀" * 751)]) == "altText ≤ 1,500 characters"  # counted as LINE's Java does
    assert limit_of([]) == "1–5 messages"
    assert limit_of([flex(bubble())] * 6) == "1–5 messages"
    assert limit_of([flex(bubble(uri="https://shop.example/" + "a" * 980))]) == "uri ≤ 1,000 characters"
    assert limit_of([{"type": "flex", "contents": bubble()}]) == "altText"
    assert limit_of([flex({"type": "box"})]) == "Flex contents"
    assert limit_of([{"type": "text", "text": "あ" * 5_001}]) == "text 1–5,000 characters"

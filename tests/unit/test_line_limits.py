"""LINE's limits on a push, checked before anything is sent and when a template loads: every breach
found, each with its place and the limit it breaks named (a bubble ≤ 30 KB of JSON, a carousel ≤ 12
bubbles and 50 KB, altText ≤ 1,500 characters, 1–5 messages, a link ≤ 1,000 characters)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from afterorder.channels import line_limits
from afterorder.channels.line_limits import LineLimitError

BUBBLE: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "line" / "flex_bubble_brown_cafe.line-bot-sdk-go.json").read_text())


def flex(contents: dict[str, Any], alt_text: str = "Brown Cafe") -> dict[str, Any]:
    return {"type": "flex", "altText": alt_text, "contents": contents}


def card(text: str = "hello", uri: str = "https://shop.example/") -> dict[str, Any]:
    """A small bubble with a text and a button that opens ``uri``."""
    return {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": text, "wrap": True},
        {"type": "button", "action": {"type": "uri", "label": "Open", "uri": uri}}]}}


def limit_of(messages: list[Any]) -> str:
    """The limit ``check`` names for ``messages`` (it must raise)."""
    with pytest.raises(LineLimitError) as caught:
        line_limits.check(messages)
    assert caught.value.limit in str(caught.value)
    return caught.value.limit


def padded_bubble(size: int) -> dict[str, Any]:
    """LINE's sample bubble with a text component padded until its JSON is ``size`` bytes."""
    bubble = copy.deepcopy(BUBBLE)
    bubble["body"]["contents"].append({"type": "text", "text": ""})
    missing = size - len(line_limits.compact_json(bubble))
    bubble["body"]["contents"][-1]["text"] = "x" * missing
    assert len(line_limits.compact_json(bubble)) == size
    return bubble


def test_lines_own_sample_bubble_is_within_every_limit() -> None:
    assert line_limits.problems([flex(BUBBLE), {"type": "text", "text": "ご注文ありがとうございます"}]) == []


@pytest.mark.parametrize("count", [0, 6])
def test_a_push_carries_one_to_five_message_objects(count: int) -> None:
    found = line_limits.problems([{"type": "text", "text": "hi"}] * count)

    assert found == [f"messages: 1 to 5 message objects per request, got {count}"]


def test_alt_text_is_counted_in_utf16_units_as_line_counts() -> None:
    assert line_limits.problems([flex(BUBBLE, "🍎" * 750)]) == []  # 1,500 units

    found = line_limits.problems([flex(BUBBLE, "🍎" * 750 + "a")])

    assert found == ["messages[0].altText: at most 1,500 characters, got 1,501"]


def test_a_flex_message_without_alt_text_is_refused() -> None:
    assert line_limits.problems([flex(BUBBLE, "")]) == ["messages[0].altText: required"]


def test_a_bubble_is_at_most_30_kb_of_json() -> None:
    assert line_limits.problems([flex(padded_bubble(30_000))]) == []

    found = line_limits.problems([flex(padded_bubble(30_001))])

    assert found == ["messages[0].contents: a bubble is at most 30 KB of JSON, got 30,001 bytes"]


def test_japanese_text_is_measured_in_utf8_bytes_not_escapes() -> None:
    bubble = copy.deepcopy(BUBBLE)
    bubble["body"]["contents"].append({"type": "text", "text": "京" * 9_000})  # 27,000 bytes of UTF-8

    assert line_limits.problems([flex(bubble)]) == []


def test_a_carousel_holds_at_most_12_bubbles() -> None:
    found = line_limits.problems([flex({"type": "carousel", "contents": [BUBBLE] * 13})])

    assert found == ["messages[0].contents: a carousel holds 1 to 12 bubbles, got 13"]


def test_a_carousel_is_at_most_50_kb_even_when_each_bubble_fits() -> None:
    carousel = {"type": "carousel", "contents": [padded_bubble(5_000)] * 11}

    found = line_limits.problems([flex(carousel)])

    assert len(found) == 1 and found[0].startswith("messages[0].contents: a carousel is at most 50 KB of JSON")


def test_a_carousel_holds_only_bubbles() -> None:
    found = line_limits.problems([flex({"type": "carousel", "contents": [{"type": "box"}]})])

    assert found == ["messages[0].contents.contents[0]: a carousel holds only bubbles"]


def test_a_text_message_is_at_most_5000_characters() -> None:
    found = line_limits.problems([{"type": "text", "text": "あ" * 5_001}])

    assert found == ["messages[0].text: at most 5,000 characters, got 5,001"]


def test_notification_messages_take_no_image() -> None:
    image = {"type": "image", "originalContentUrl": "https://example.jp/a.png", "previewImageUrl": "https://example.jp/b.png"}

    assert line_limits.problems([image]) == []
    assert line_limits.problems([image], notification=True) == [
        "messages[0]: LINE notification messages take no image message"]


def test_check_raises_naming_every_broken_limit() -> None:
    with pytest.raises(LineLimitError) as raised:
        line_limits.check([flex(BUBBLE, ""), {"text": "no type"}])

    assert raised.value.problems == ["messages[0].altText: required",
                                     "messages[1]: a message object with a type is required"]
    assert raised.value.limit == "altText" and "altText" in str(raised.value)


def test_something_that_is_not_a_list_is_refused() -> None:
    assert line_limits.problems({"type": "text"}) == ["messages: a list of LINE message objects is required"]


def test_cards_at_each_limit_pass() -> None:
    line_limits.check([flex(padded_bubble(30_000))])
    line_limits.check([flex(card(), "😀" * 750)])  # 1,500 UTF-16 units
    line_limits.check([flex({"type": "carousel", "contents": [card()] * 12})] * 5)
    line_limits.check([flex(card(uri="https://shop.example/" + "a" * 979))])  # a 1,000-character link


def test_the_error_names_the_first_limit_broken() -> None:
    assert limit_of([flex(padded_bubble(30_001))]) == "bubble ≤ 30 KB"
    assert limit_of([flex({"type": "carousel", "contents": [card()] * 13})]) == "carousel ≤ 12 bubbles"
    assert limit_of([flex({"type": "carousel", "contents": [padded_bubble(4_500)] * 12})]) == "carousel ≤ 50 KB"
    assert limit_of([flex(card(), "a" * 1_501)]) == "altText ≤ 1,500 characters"
    assert limit_of([flex(card(), "😀" * 751)]) == "altText ≤ 1,500 characters"  # counted as LINE's Java does
    assert limit_of([]) == "1–5 messages"
    assert limit_of([flex(card())] * 6) == "1–5 messages"
    assert limit_of([flex(card(uri="https://shop.example/" + "a" * 980))]) == "uri ≤ 1,000 characters"
    assert limit_of([{"type": "flex", "contents": card()}]) == "altText"
    assert limit_of([flex(card(), " \n")]) == "altText"  # a blank altText is none
    assert limit_of([flex({"type": "box"})]) == "Flex contents"
    assert limit_of([{"type": "text", "text": "あ" * 5_001}]) == "text ≤ 5,000 characters"


def test_a_link_over_1000_characters_is_refused_wherever_it_is_in_the_message() -> None:
    long_link = "https://shop.example/" + "a" * 980
    carousel = {"type": "carousel", "contents": [card(), card(uri=long_link)]}

    assert line_limits.problems([flex(carousel)]) == ["messages[0]: a link is at most 1,000 characters, got 1,001"]


def test_the_channels_check_skips_only_what_the_whole_request_shows_cannot_fail() -> None:
    within = [flex(padded_bubble(30_000))]
    over = [flex(padded_bubble(30_001), "😀" * 751)]
    long_link = [flex(card(uri="https://shop.example/" + "a" * 980))]
    escaped_link = [flex(card(uri="https://shop.example/?q=\"" + "a" * 975))]  # 1,000 characters, 1,001 bytes as JSON

    line_limits.check(within, document=line_limits.compact_json({"messages": within}))
    line_limits.check(escaped_link, document=line_limits.compact_json({"messages": escaped_link}))
    with pytest.raises(LineLimitError) as refused:
        line_limits.check(over, document=line_limits.compact_json({"to": "U" + "0" * 32, "messages": over}))
    with pytest.raises(LineLimitError) as linked:
        line_limits.check(long_link, document=line_limits.compact_json({"messages": long_link}))

    assert refused.value.problems == ["messages[0].altText: at most 1,500 characters, got 1,502",
                                      "messages[0].contents: a bubble is at most 30 KB of JSON, got 30,001 bytes"]
    assert linked.value.problems == ["messages[0]: a link is at most 1,000 characters, got 1,001"]

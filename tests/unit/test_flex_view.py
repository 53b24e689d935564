"""What the development inbox reads out of LINE message objects: LINE's own Flex sample (the Brown
Cafe bubble of line-bot-sdk-go's kitchensink, ``tests/fixtures/line``), carousels, text and other
messages, and values the page must not take as they are (links a browser would run, images LINE
would not show, colours that are not colours)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from afterorder.dev.flex_view import Box, Button, Card, ChatMessage, Image, Separator, Text, read_messages

BUBBLE = json.loads((Path(__file__).parents[1] / "fixtures" / "line" /
                     "flex_bubble_brown_cafe.line-bot-sdk-go.json").read_text())


def flex(contents: dict[str, Any], alt_text: str = "Brown Cafe") -> dict[str, Any]:
    return {"type": "flex", "altText": alt_text, "contents": contents}


def test_lines_sample_bubble_reads_as_a_card_with_hero_texts_rows_and_buttons() -> None:
    [message] = read_messages([flex(BUBBLE)])
    assert message.type == "flex" and message.alt_text == "Brown Cafe"
    [card] = message.cards
    assert card.hero == Image("https://scdn.line-apps.com/n/channel_devcenter/img/fx/01_1_cafe.png", full=True,
                              link="http://linecorp.com/")
    body, footer = card.sections
    assert isinstance(body, Box) and not body.row
    title, rating, details = body.parts
    assert title == Text("Brown Cafe", size="xl", bold=True)
    # the star icons are left out; the rating's number stays, grey and not stretched
    assert rating == Box(row=True, parts=(Text("4.0", size="sm", muted=True, grow=False),))
    assert isinstance(details, Box)
    place = details.parts[0]
    assert isinstance(place, Box) and place.row
    assert [p.text for p in place.parts if isinstance(p, Text)] == ["Place", "Miraina Tower, 4-1-6 Shinjuku, Tokyo"]
    assert isinstance(footer, Box) and not footer.grow
    assert footer.parts == (Button("CALL", "https://linecorp.com"), Button("WEBSITE", "https://linecorp.com"))


def test_a_carousel_is_a_card_per_bubble() -> None:
    second = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": "合計"}, {"type": "separator"}]}}
    [message] = read_messages([flex({"type": "carousel", "contents": [BUBBLE, second]})])
    assert len(message.cards) == 2
    assert message.cards[1] == Card(None, (Box(row=False, parts=(Text("合計"), Separator())),))


def test_text_and_other_messages() -> None:
    text, sticker, broken = read_messages([
        {"type": "text", "text": "ご注文ありがとうございます\n山田様"},
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {"type": "flex", "altText": "no contents"}])
    assert text == ChatMessage("text", text="ご注文ありがとうございます\n山田様")
    assert sticker == ChatMessage("sticker")
    assert broken == ChatMessage("flex", alt_text="no contents")
    assert read_messages("not a list") == [] and read_messages([1, None]) == []


def test_a_text_of_spans_reads_as_their_text() -> None:
    [message] = read_messages([flex({"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "contents": [{"type": "span", "text": "合計 "}, {"type": "span", "text": "¥4,400",
                                                                        "weight": "bold"}]}]}})])
    body = message.cards[0].sections[0]
    assert isinstance(body, Box) and body.parts == (Text("合計 ¥4,400"),)


def test_links_images_and_colours_a_browser_should_not_take_are_left_out() -> None:
    hostile = {"type": "bubble",
               "hero": {"type": "image", "url": "http://plain.example/hero.png"},
               "body": {"type": "box", "layout": "horizontal", "backgroundColor": "red;background:url(x)",
                        "action": {"type": "uri", "uri": "javascript:alert(1)"}, "contents": [
                            {"type": "text", "text": "<script>alert(1)</script>", "size": "huge\" onclick=\"x",
                             "color": "#fff;x"},
                            {"type": "image", "url": "data:image/png;base64,AAAA"}]},
               "footer": {"type": "box", "layout": "vertical", "contents": [
                   {"type": "button", "style": "primary", "color": "#06c755\" onmouseover=\"x",
                    "action": {"type": "uri", "label": "Track", "uri": "line://app/x"}},
                   {"type": "button", "action": {"type": "postback", "label": "Postback", "data": "a=1"}}]}}
    [card] = read_messages([flex(hostile)])[0].cards
    assert card.hero is None
    body, footer = card.sections
    # the text is kept as text (the page escapes it); everything else that is not a value is dropped
    assert body == Box(row=True, parts=(Text("<script>alert(1)</script>"),), link=None, shaded=False)
    assert footer == Box(row=False, parts=(Button("Track", None, primary=True), Button("Postback", None)))

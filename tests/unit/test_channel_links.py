"""Links in LINE and SMS messages: LINE buttons through the click redirect (utm_medium=line), SMS links
made short and signed (utm_medium=sms), and the short codes themselves: readable by anyone, made only
with the store's key, refused when altered."""

from __future__ import annotations

import base64
import html
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from afterorder.content.flex_html import line_html
from afterorder.content.line import LineRendered
from afterorder.content.sms import SmsRendered, measured
from afterorder.signing import BadToken, Signer
from afterorder.tracking.links import LinkContext, instrument_line, instrument_sms
from afterorder.tracking.settings import TrackingSettings
from afterorder.tracking.short_links import ShortLink, encode, peek, short_url, verify

SIGNER = Signer("k" * 64)
OTHER = Signer("o" * 64)
CTX = LinkContext(SIGNER, 7, "run:123456:step:2", "https://ao.example", "shipping-confirmation",
                  "shipping-confirmation", TrackingSettings(domains=("kumo.example",)))


def card(uri: str) -> LineRendered:
    button = {"type": "button", "action": {"type": "uri", "label": "Track", "uri": uri}}
    row = {"type": "box", "layout": "horizontal", "action": {"type": "uri", "uri": "https://kumo.example/p/1"},
           "contents": [{"type": "image", "url": "https://kumo.example/i.jpg"}]}
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [row]},
              "footer": {"type": "box", "layout": "vertical", "contents": [button]}}
    return LineRendered("shipped", [{"type": "flex", "altText": "shipped", "contents": bubble}])


def test_short_codes_round_trip_and_are_short() -> None:
    for link in (ShortLink(7, "run:123456:step:2", 0, True), ShortLink(2**40, "nps-alert:7:11", 3, False),
                 ShortLink(1, "confirm:9:1700000000", 0, True)):
        code = encode(SIGNER, link)
        assert peek(code) == link and verify(SIGNER, code) == link
    assert len(encode(SIGNER, ShortLink(1, "run:123456:step:2", 0, True))) == 18
    assert short_url("https://ao.example/", "abc") == "https://ao.example/c/abc"


def test_an_altered_or_foreign_code_is_refused() -> None:
    code = encode(SIGNER, ShortLink(7, "run:123456:step:2", 0, True))
    raw = bytearray(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4)))
    raw[3] ^= 1  # another run
    altered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    forged = encode(OTHER, ShortLink(7, "run:123456:step:2", 0, True))
    for bad in (altered, forged, code[:-1], code + "A", code[:-1] + ("A" if code[-1] != "A" else "B")):
        with pytest.raises(BadToken):
            verify(SIGNER, bad)
    for unreadable in ("", "!!", "AA", "a" * 500):
        with pytest.raises(BadToken):
            peek(unreadable)


def test_line_buttons_and_rows_go_through_the_click_redirect() -> None:
    out = instrument_line(card("https://carrier.example/track/1"), CTX)
    uris = out.messages[0]["contents"]
    button = uris["footer"]["contents"][0]["action"]["uri"]
    row = uris["body"]["contents"][0]["action"]["uri"]
    assert button.startswith("https://ao.example/t/c/") and row.startswith("https://ao.example/t/c/")
    assert SIGNER.verify("click", button.rsplit("/", 1)[1]) == {"s": 7, "k": "run:123456:step:2",
                                                                  "u": "https://carrier.example/track/1"}
    target = urlsplit(SIGNER.verify("click", row.rsplit("/", 1)[1])["u"])
    assert parse_qs(target.query)["utm_medium"] == ["line"], "the store's own links get UTM for LINE"
    assert uris["body"]["contents"][0]["contents"][0]["url"] == "https://kumo.example/i.jpg", "images stay"
    assert out.alt_text == "shipped"


def test_a_line_link_that_would_grow_too_long_stays_as_it_is() -> None:
    long = "https://carrier.example/track/" + "a" * 700  # its click token would pass 1,000 characters
    uri = instrument_line(card(long), CTX).messages[0]["contents"]["footer"]["contents"][0]["action"]["uri"]
    assert uri == long
    ours = "https://ao.example/s/kumo/nps/TOKEN/9"
    assert instrument_line(card(ours), CTX).messages[0]["contents"]["footer"]["contents"][0]["action"]["uri"] == ours


def test_sms_links_become_short_signed_links_to_the_stored_targets() -> None:
    track = "https://carrier.example/track/" + "1" * 60
    text = f"【雲茶舗】ご注文の商品を発送いたしました。配送状況：{track}\nアンケート：https://ao.example/s/kumo/nps/TOKEN。または{track}"
    rendered = measured(text, {"order": "1001", "link": track})
    out = instrument_sms(rendered, CTX)
    shorts = [w for w in out.text.replace("。", " ").replace("：", " ").replace("は", " ").split() if "://" in w]
    assert len(shorts) == 3 and all(s.startswith("https://ao.example/c/") and len(s) < 45 for s in shorts)
    assert shorts[0] == shorts[2], "the same address is one link"
    assert out.links == (track, "https://ao.example/s/kumo/nps/TOKEN")
    first, survey = (verify(SIGNER, s.rsplit("/", 1)[1]) for s in shorts[:2])
    assert (first.key, first.index, first.record) == ("run:123456:step:2", 0, True)
    assert (survey.index, survey.record) == (1, False), "afterorder's own pages: no click recorded, as in email"
    assert out.params == {"order": "1001", "link": shorts[0]}
    assert out.segments < rendered.segments and out.encoding == "UCS-2"
    assert json.loads(out.payload()) == {"text": out.text, "params": out.params, "links": list(out.links)}


def test_sms_links_to_the_store_get_utm_and_no_recording_when_clicks_are_not_tracked() -> None:
    quiet = LinkContext(SIGNER, 7, "run:1:step:1", "https://ao.example", "welcome", "welcome",
                        TrackingSettings(track_clicks=False, domains=("kumo.example",)))
    out = instrument_sms(SmsRendered("Shop now: https://kumo.example/new", {}, "GSM-7", 1, None), quiet)
    assert out.links == ("https://kumo.example/new?utm_source=afterorder&utm_medium=sms&utm_campaign=welcome"
                         "&utm_content=welcome",)
    assert verify(SIGNER, out.text.rsplit("/", 1)[1]).record is False


def flex_message(text: str, uri: str, color: str = "#06c755") -> dict[str, Any]:
    button = {"type": "button", "style": "primary", "color": color,
              "action": {"type": "uri", "label": text, "uri": uri}}
    return {"type": "flex", "altText": text, "contents": {"type": "bubble", "body": {
        "type": "box", "layout": "vertical", "contents": [{"type": "text", "text": text, "align": "x;color:red"},
                                                          {"type": "image", "url": "http://plain.example/i.jpg"},
                                                          button]}}}


def test_the_card_preview_escapes_everything() -> None:
    hostile = '"><script>alert(1)</script>'
    drawn = line_html([flex_message(hostile, "javascript:alert(1)", color="red;background:url(x)")])
    assert "<script>" not in drawn and html.escape(hostile, quote=True) in drawn
    assert "javascript:" not in drawn and "http://plain.example" not in drawn, "no script links, no plain-http images"
    assert "color:red" not in drawn and "url(x)" not in drawn
    safe = line_html([flex_message("発送のお知らせ", "https://ao.example/t/c/x")])
    assert 'href="https://ao.example/t/c/x"' in safe and "発送のお知らせ" in safe

"""Trackable links: which links are rewritten, UTM without clobbering, the pixel, signed targets."""

from __future__ import annotations

import re

import pytest

from afterorder.compliance.suppression import Reason, address_hash, blocked_reason
from afterorder.domain import RenderedMessage
from afterorder.signing import BadToken, Signer
from afterorder.tracking.engagement import is_machine_open
from afterorder.tracking.links import LinkContext, instrument, peek_store, utm
from afterorder.tracking.settings import TrackingSettings

SIGNER = Signer("k" * 64)
CTX = LinkContext(SIGNER, 7, "run:3:step:1", "https://ao.example", "winback", "come-back",
                  TrackingSettings(domains=("kumo.example",)))


def test_utm_goes_on_store_links_only_and_keeps_what_is_there() -> None:
    assert utm("https://www.kumo.example/p/1?ref=x", CTX) == (
        "https://www.kumo.example/p/1?ref=x&utm_source=afterorder&utm_medium=email&utm_campaign=winback"
        "&utm_content=come-back")
    assert utm("https://kumo.example/?utm_source=news&utm_campaign=spring", CTX) == (
        "https://kumo.example/?utm_source=news&utm_campaign=spring&utm_medium=email&utm_content=come-back")
    assert utm("https://carrier.example/track/1", CTX) == "https://carrier.example/track/1"
    assert utm("https://kumo.example.evil.test/", CTX) == "https://kumo.example.evil.test/"


def test_instrument_rewrites_web_links_and_adds_the_pixel() -> None:
    html = ('<html><body><a href="https://kumo.example/p?a=1&amp;b=2">item</a> <a href="mailto:s@kumo.example">m</a>'
            '<a href="https://ao.example/u/TOKEN">unsubscribe</a><a data-ao-notrack href="https://kumo.example/x">x</a>'
            '<a class="b" href=\'https://carrier.example/t\'>t</a></body></html>')
    out = instrument(RenderedMessage("s", html, "see https://kumo.example/p and https://ao.example/u/T"), CTX)
    clicks = re.findall(r'href=["\'](https://ao\.example/t/c/[^"\']+)', out.html)
    assert len(clicks) == 2
    targets = [SIGNER.verify("click", c.rsplit("/", 1)[1])["u"] for c in clicks]
    assert targets[0].startswith("https://kumo.example/p?a=1&b=2&utm_source=afterorder")
    assert targets[1] == "https://carrier.example/t", "no UTM on other sites' links, but tracked"
    for kept in ('href="mailto:s@kumo.example"', 'href="https://ao.example/u/TOKEN"',
                 'data-ao-notrack href="https://kumo.example/x"'):
        assert kept in out.html
    assert re.search(r'<img src="https://ao\.example/t/o/[^"]+\.gif"[^>]*></body>', out.html)
    assert "https://kumo.example/p?utm_source=afterorder" in out.text and "https://ao.example/u/T" in out.text
    assert SIGNER.verify("click", clicks[0].rsplit("/", 1)[1])["k"] == "run:3:step:1"


def test_tracking_can_be_turned_off() -> None:
    off = LinkContext(SIGNER, 7, "k", "https://ao.example", None, "t",
                      TrackingSettings(track_opens=False, track_clicks=False, domains=("kumo.example",)))
    out = instrument(RenderedMessage("s", '<body><a href="https://kumo.example/">x</a></body>', ""), off)
    assert out.html == '<body><a href="https://kumo.example/?utm_source=afterorder&amp;utm_medium=email&amp;' \
                       'utm_content=t">x</a></body>'


def test_peek_store_reads_only_a_claim() -> None:
    token = SIGNER.sign("click", {"s": 7, "k": "x", "u": "https://kumo.example"})
    assert peek_store(token) == 7
    for bad in ("", "!!!", "e30.AAAA", "eyJzIjoiNyJ9.AAAA"):  # {}, {"s": "7"}
        with pytest.raises(BadToken):
            peek_store(bad)


def test_apple_privacy_prefetch_heuristic() -> None:
    assert is_machine_open("Mozilla/5.0", "203.0.113.9")
    assert is_machine_open("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", "17.58.101.4")
    assert not is_machine_open("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", "203.0.113.9")
    assert not is_machine_open(None, "not an ip")


def test_which_suppressions_block_which_mail() -> None:
    assert blocked_reason("transactional", {Reason.HARD_BOUNCE}) == "address suppressed (hard_bounce)"
    assert blocked_reason("transactional", {Reason.COMPLAINT}) == "address suppressed (complaint)"
    assert blocked_reason("transactional", {Reason.UNSUBSCRIBE, Reason.MANUAL}) is None
    assert blocked_reason("marketing", {Reason.UNSUBSCRIBE}) == "address suppressed (unsubscribe)"
    assert blocked_reason("marketing", set()) is None
    assert address_hash(" Jane@Example.COM ") == address_hash("jane@example.com")

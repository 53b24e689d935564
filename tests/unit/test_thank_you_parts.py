"""The thank-you block's pure parts: what counts as a shop origin, which rate-limit bucket its
requests take, and that its words exist in every language."""

from __future__ import annotations

import pytest

from afterorder.thank_you.origins import OriginError, ShopOrigins, connection_origins, normalize_origins
from afterorder.thank_you.text import CHOICES, block_text, locales
from afterorder.web.rate_limits import Target, target_of


def test_origins_are_written_one_way() -> None:
    assert normalize_origins(["https://Shop.Example:443/", "https://shop.example", "http://127.0.0.1:8001",
                              "https://shop.example:8443"]) == (
        "https://shop.example", "http://127.0.0.1:8001", "https://shop.example:8443")


@pytest.mark.parametrize("bad", ["*", "shop.example", "http://shop.example", "https://shop.example/thanks",
                                 "https://shop.example?x=1", "https://user@shop.example", "ftp://shop.example",
                                 "https://shop.example:99999"])
def test_anything_but_an_origin_is_refused(bad: str) -> None:
    with pytest.raises(OriginError):
        normalize_origins([bad])


def test_at_most_ten_origins() -> None:
    with pytest.raises(OriginError, match="at most 10"):
        normalize_origins([f"https://s{i}.example" for i in range(11)])


def test_a_connection_url_gives_its_origin_and_a_bad_one_nothing() -> None:
    assert connection_origins(["https://shop.example/graphql/", None, "not a url", "https://shop.example/x"]) == (
        "https://shop.example",)


def test_only_a_listed_origin_is_allowed() -> None:
    origins = ShopOrigins(("https://shop.example",), "setting")
    assert origins.allows("https://shop.example")
    assert not origins.allows("https://shop.example.evil.test") and not origins.allows(None)
    assert not origins.allows("null")


def test_the_blocks_requests_take_the_public_buckets_but_the_script_none() -> None:
    assert target_of("/w/kumo/tok.mac.json") == Target("public", "thank_you", "kumo")
    assert target_of("/w/kumo/tok.mac/survey", method="POST") == Target("public", "thank_you_post", "kumo")
    assert target_of("/w/kumo/tok.mac/survey", method="OPTIONS") == Target("public", "thank_you", "kumo")
    assert target_of("/w/kumo.js") is None


def test_every_language_has_every_word() -> None:
    keys = set(block_text("en"))
    assert set(locales()) == {"en", "ja", "zh-Hans"}
    for locale in locales():
        text = block_text(locale, store="雲茶舗")
        assert set(text) == keys, locale
        assert all(f"choice.{c}" in text for c in CHOICES)
        assert "雲茶舗" in text["newsletter_wording"] and "{" not in "".join(text.values())

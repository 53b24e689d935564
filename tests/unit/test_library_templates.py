"""Every template of the post-purchase library (how-to, replenishment, NPS, profile survey, review, UGC,
international, made-to-order) renders in ja, zh-Hans and en from realistic data, through the same
context the scheduler gives it, with no placeholder, broken variable or untranslated text left."""

from __future__ import annotations

import re
from typing import Any

import pytest

from afterorder.content import Renderer
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from tests.library_data import CUSTOMERS, LIBRARY_TEMPLATES, ORDER, STORE, library_extra

LOCALES = ("en", "ja", "zh-Hans")
TEMPLATES = LIBRARY_TEMPLATES
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|\bNone\b|\bundefined\b|\[\]|how_to\.|nps\.|ugc\.|survey\.|replenish\.")
LATIN_WORDS = re.compile(r"\b(the|your|order|and|with|thank|you)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _render(renderer: Renderer, template: str, locale: str) -> Any:
    extra = library_extra(template, locale)
    return renderer.render(template, locale, store=STORE.snapshot("https://ao.kumo.example"),
                           customer=customer_snapshot(CUSTOMERS[locale]), order=order_snapshot(ORDER), extra=extra)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_library_template_renders_clean_in_every_locale(renderer: Renderer, template: str,
                                                              locale: str) -> None:
    assert renderer.locales_for(template) == sorted(LOCALES)
    message = _render(renderer, template, locale)
    text_only = re.sub(r"https?://\S+|[\w.+-]+@[\w.-]+|<[^>]+>", " ", message.html)
    for part in (message.subject, message.text, text_only):
        assert part.strip()
        assert not LEFTOVERS.search(part), (template, locale, LEFTOVERS.search(part))
    if locale != "en":  # no English sentence left untranslated (store, product and platform names aside)
        for part in (message.subject, re.sub(r"https?://\S+|[\w.+-]+@[\w.-]+", " ", message.text)):
            assert not LATIN_WORDS.search(part), (template, locale, part)


def test_what_each_message_shows(renderer: Renderer) -> None:
    how_to = _render(renderer, "how-to-part-2", "ja")
    assert "日々のお手入れ" in how_to.text and "（2/3）" in how_to.subject and "急須の慣らし方" not in how_to.text
    nps = _render(renderer, "nps", "en")
    links = re.findall(r"https://ao\.kumo\.example/s/kumo/nps/[\w.-]+/(\d+)", nps.html)
    assert links == [str(s) for s in range(11)], "eleven signed buttons, 0 to 10"
    reviews = _render(renderer, "review-request", "zh-Hans")
    assert "https://kumo.example/p/kyusu#reviews" in reviews.html and "https://cdn.example/gyokuro.jpg" in reviews.html
    assert "玉露 100g" in _render(renderer, "replenishment", "en").text
    assert "京焼 急須" not in _render(renderer, "replenishment", "en").text, "only the consumable line"
    ugc = _render(renderer, "ugc-request", "ja")
    assert "#kumotea" in ugc.text and "茶器セット" in ugc.text
    intl = _render(renderer, "international-in-transit", "en")
    assert "https://track.example/EE1" in intl.text and "EE123456789JP" in intl.html
    assert "2026" in _render(renderer, "made-to-order", "en").text


@pytest.mark.parametrize("locale", LOCALES)
def test_the_confirmation_welcomes_a_first_time_buyer_and_greets_a_repeat_buyer_as_such(
        renderer: Renderer, locale: str) -> None:
    def confirm(count: int) -> str:
        extra = library_extra("order-confirmation", locale, order_count=count)
        return renderer.render("order-confirmation", locale, store=STORE.snapshot("https://ao.kumo.example"),
                               customer=customer_snapshot(CUSTOMERS[locale]), order=order_snapshot(ORDER),
                               extra=extra).text
    welcome = {"en": "Welcome to the", "ja": "へようこそ", "zh-Hans": "大家庭"}[locale]
    again = {"en": "Welcome back", "ja": "ご愛顧", "zh-Hans": "欢迎回来"}[locale]
    first, repeat = confirm(1), confirm(4)
    assert welcome in first and again not in first
    assert again in repeat and welcome not in repeat and "4" in repeat

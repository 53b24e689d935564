"""Every template of the post-purchase library (how-to, replenishment, NPS, profile survey, review, UGC,
international, made-to-order) renders in ja, zh-Hans and en from realistic data, through the same
context the scheduler gives it, with no placeholder, broken variable or untranslated text left."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from afterorder.content import Renderer
from afterorder.content.store_content import StoreContent, validate
from afterorder.db.stores import StoreRow
from afterorder.flows.followups import message_extra
from afterorder.signing import new_signing_key
from afterorder.snapshots import customer_snapshot, order_snapshot

LOCALES = ("en", "ja", "zh-Hans")
TEMPLATES = ("how-to", "how-to-part-2", "how-to-part-3", "replenishment", "nps", "nps-promoter", "nps-detractor",
             "nps-store-alert", "profile-survey", "review-request", "ugc-request", "international-in-transit",
             "made-to-order", "made-to-order-progress")
PLACED = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
STORE = StoreRow(id=1, slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="help@kumo.example",
                 country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY", postal_address="京都市中京区1-2",
                 support_email="help@kumo.example", support_phone="075-123-4567", support_url="https://kumo.example/help",
                 brand_color="#2d6a4f", logo_url="", api_key_prefix="ao_x", signing_key=new_signing_key(),
                 created_at=PLACED)
CONTENT = StoreContent({
    "how-to": validate("how-to", {"categories": {"teaware": [
        {"title": {"en": "Seasoning your teapot", "ja": "急須の慣らし方", "zh-Hans": "茶壶开壶方法"},
         "body": {"en": "Rinse it with hot water before the first use.", "ja": "初回はお湯で内側をすすいでください。",
                  "zh-Hans": "首次使用前请用热水冲洗内部。"},
         "url": "https://kumo.example/care/kyusu", "image_url": "https://cdn.example/care.jpg"},
        {"title": {"en": "Daily care", "ja": "日々のお手入れ", "zh-Hans": "日常保养"},
         "body": {"en": "Dry it upside down.", "ja": "逆さにして乾かしてください。", "zh-Hans": "倒置晾干。"}},
        {"title": {"en": "Removing tea stains", "ja": "茶渋の落とし方", "zh-Hans": "去除茶垢"},
         "body": {"en": "Use baking soda once a month.", "ja": "月に一度、重曹でお手入れを。",
                  "zh-Hans": "每月用小苏打清洁一次。"}}]}}),
    "profile-survey": validate("profile-survey", {"questions": [
        {"key": "tea", "label": {"en": "Favourite tea", "ja": "お好きなお茶", "zh-Hans": "喜欢的茶"},
         "options": [{"value": "sencha", "label": {"en": "Sencha", "ja": "煎茶", "zh-Hans": "煎茶"}}]}]}),
    "nps": validate("nps", {"review_url": "https://kumo.example/reviews", "referral_url": "https://kumo.example/r"}),
    "ugc": validate("ugc", {"platform": "Instagram", "hashtag": "#kumotea", "url": "https://instagram.com/kumo",
                            "incentive": {"en": "Tagged posts win a tea set each month.",
                                          "ja": "毎月、投稿の中から茶器セットをプレゼント。",
                                          "zh-Hans": "每月从带话题的帖子中抽取一套茶具。"}}),
})
ORDER: dict[str, Any] = {
    "number": "#1001", "currency": "JPY", "placed_at": PLACED, "status": "shipped", "subtotal": Decimal(15000),
    "total": Decimal(15000), "shipping_address": {"name": "Emma Smith", "city": "Berlin", "country": "DE"},
    "shipment": {"carrier": "EMS", "tracking_number": "EE123456789JP", "tracking_url": "https://track.example/EE1"},
    "lines": [{"title": "京焼 急須", "quantity": 1, "price": Decimal(12000), "product_id": "kyusu", "sku": "K-1",
               "image_url": "https://cdn.example/kyusu.jpg", "url": "https://kumo.example/p/kyusu",
               "category": "teaware", "variant": "白"},
              {"title": "玉露 100g", "quantity": 1, "price": Decimal(3000), "product_id": "gyokuro", "sku": "G-1",
               "image_url": "https://cdn.example/gyokuro.jpg", "url": "https://kumo.example/p/gyokuro",
               "category": "tea", "variant": None}],
    "categories": ["tea", "teaware"], "how_to_parts": 3, "replenish_days": 30.0, "replenish_items": ["gyokuro"],
    "expected_ship_date": PLACED + timedelta(days=42), "nps_score": 10, "ships_abroad": True,
}
CUSTOMERS = {
    "en": {"email": "emma@example.com", "first_name": "Emma", "last_name": "Smith", "locale": "en"},
    "ja": {"email": "taro@example.jp", "first_name": "太郎", "last_name": "山田", "locale": "ja"},
    "zh-Hans": {"email": "li@example.cn", "first_name": "小龙", "last_name": "李", "locale": "zh-Hans"},
}
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|\bNone\b|\bundefined\b|\[\]|how_to\.|nps\.|ugc\.|survey\.|replenish\.")
LATIN_WORDS = re.compile(r"\b(the|your|order|and|with|thank|you)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _render(renderer: Renderer, template: str, locale: str) -> Any:
    extra = message_extra(STORE, "https://ao.kumo.example", CONTENT, {"customer_id": 7, "order_id": 11}, ORDER,
                          {"order_count": 3}, template)(locale)
    if template == "nps-store-alert":
        extra = {"score": 3, "comment": "箱が潰れていました", "customer_email": "taro@example.jp"}
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
        extra = message_extra(STORE, "https://ao.kumo.example", CONTENT, {"customer_id": 7, "order_id": 11}, ORDER,
                              {"order_count": count}, "order-confirmation")(locale)
        return renderer.render("order-confirmation", locale, store=STORE.snapshot("https://ao.kumo.example"),
                               customer=customer_snapshot(CUSTOMERS[locale]), order=order_snapshot(ORDER),
                               extra=extra).text
    welcome = {"en": "Welcome to the", "ja": "へようこそ", "zh-Hans": "大家庭"}[locale]
    again = {"en": "Welcome back", "ja": "ご愛顧", "zh-Hans": "欢迎回来"}[locale]
    first, repeat = confirm(1), confirm(4)
    assert welcome in first and again not in first
    assert again in repeat and welcome not in repeat and "4" in repeat

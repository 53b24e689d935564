"""Every template of the flow library (welcome, abandoned cart, back in stock, thank-you, second purchase,
win-back, cross-sell, VIP surprise) renders in ja, zh-Hans and en with realistic data, and what a customer
would read has no placeholder, broken variable, untranslated English or empty required field."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from afterorder.compliance.message import MessageCompliance
from afterorder.content import Renderer
from afterorder.domain import CustomerSnapshot, LineSnapshot, OrderSnapshot, StoreSnapshot
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.extras import empty_extras
from afterorder.flows.spec import Send

FLOWS = ("welcome", "abandoned-cart", "back-in-stock", "thank-you", "second-purchase", "win-back", "cross-sell",
         "vip-surprise")
LOCALES = ("ja", "zh-Hans", "en")
STORE = StoreSnapshot(
    slug="kumo", name="Kumo Tea", email_from="shop@kumo.example", reply_to="help@kumo.example", country="JP",
    locale="ja", timezone="Asia/Tokyo", currency="JPY", postal_address="東京都渋谷区神南1-2-3",
    support_email="help@kumo.example", support_phone="03-1234-5678", support_url="https://kumo.example/help",
    brand_color="#2f6b3a",
)
CUSTOMERS = {
    "ja": CustomerSnapshot(email="hanako@example.jp", first_name="花子", last_name="佐藤", locale="ja"),
    "zh-Hans": CustomerSnapshot(email="li@example.cn", first_name="伟", last_name="李", locale="zh-Hans"),
    "en": CustomerSnapshot(email="jane@example.com", first_name="Jane", last_name="Doe", locale="en"),
}
ORDER = OrderSnapshot(
    number="1042", currency="JPY", placed_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
    lines=(LineSnapshot("Sencha Gift Tin", 2, Decimal("2400"), image_url="https://cdn.kumo.example/sencha.jpg",
                        url="https://kumo.example/p/sencha", category="green-tea"),),
    subtotal=Decimal("4800"), shipping=Decimal("0"), tax=Decimal("0"), total=Decimal("4800"),
)
PICKS = [
    {"product_id": "p-kyusu", "title": "Tokoname Kyusu", "category": "teaware", "price": Decimal("6800"),
     "currency": "JPY", "image_url": "https://cdn.kumo.example/kyusu.jpg", "url": "https://kumo.example/p/kyusu",
     "reason": "bought_together"},
    {"product_id": "p-gyokuro", "title": "Gyokuro Premium", "category": "green-tea", "price": Decimal("4200"),
     "currency": "JPY", "image_url": "https://cdn.kumo.example/gyokuro.jpg", "url": "https://kumo.example/p/gyokuro",
     "reason": "upsell"},
]
COLLECTION = [{**PICKS[1], "product_id": "p-hojicha", "title": "Hojicha Roast", "price": Decimal("1800"),
               "reason": "collection"}]
EXTRAS: dict[str, Any] = {
    **empty_extras({
        "checkout": {"id": "c-77", "url": "https://kumo.example/checkout/c-77", "currency": "JPY",
                     "lines": [{"title": "Matcha Starter Set", "quantity": 1, "price": "5400",
                                "image_url": "https://cdn.kumo.example/matcha.jpg", "variant": None,
                                "url": "https://kumo.example/p/matcha"}]},
        "product": {"id": "p-matcha", "title": "Matcha Starter Set", "url": "https://kumo.example/p/matcha",
                    "image_url": "https://cdn.kumo.example/matcha.jpg", "price": "5400", "currency": "JPY"},
        "properties": {"points": 480},
    }),
    "coupon": {"code": "WELCOME-7KX9QPMA", "percent": 10, "amount": None,
               "expires_at": datetime(2026, 12, 22, 3, 0, tzinfo=UTC)},
    "recommendations": PICKS,
    "collection": COLLECTION,
    "params": {"sender_name": "Aiko Tanaka", "sender_title": "Founder"},
}
DATA = ("Matcha Starter Set", "Sencha Gift Tin", "Tokoname Kyusu", "Gyokuro Premium", "Hojicha Roast", "Aiko Tanaka")
# Words that may appear in a ja / zh-Hans subject: the brand and the customer's name.
ALLOWED_LATIN = {"Kumo", "Tea", "VIP", "OFF"}
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|TODO|FIXME|\bNone\b|\bundefined\b|\[\[|[Ll]orem ipsum")


def _templates() -> list[str]:
    catalog = FlowCatalog.load([])
    found = []
    for flow in FLOWS:
        found += [i.template for i in catalog.get(flow).program if isinstance(i, Send)]
    return found


TEMPLATES = _templates()


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def test_every_flow_sends_templates_written_in_all_three_languages(renderer: Renderer) -> None:
    assert len(TEMPLATES) >= 10
    for template in TEMPLATES:
        assert set(LOCALES) <= set(renderer.locales_for(template)), template


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_renders_clean_with_promotions(renderer: Renderer, template: str, locale: str) -> None:
    rules = MessageCompliance(marketing=True, promotions=True, unsubscribe_url="https://ao.example/u/kumo/t",
                              preferences_url="https://ao.example/preferences/kumo/t")
    message = renderer.render(template, locale, store=STORE, customer=CUSTOMERS[locale], order=ORDER,
                              extra=EXTRAS, compliance=rules)
    for part in (message.subject, message.text, message.html):
        assert not LEFTOVERS.search(part), (template, locale, LEFTOVERS.search(part))
    assert message.subject.strip() and len(message.subject) < 120
    if locale != "en":
        subject = message.subject
        for value in DATA:  # names of things are data, not copy
            subject = subject.replace(value, "")
        words = set(re.findall(r"[A-Za-z]{2,}", subject)) - ALLOWED_LATIN
        assert not words, f"{template}/{locale} subject has untranslated words {words}: {message.subject}"
        body_words = set(re.findall(r"\b[a-z]{4,}\b", message.text)) - {"https", "help", "kumo", "example"}
        latin = {w for w in body_words if not any(w in url for url in re.findall(r"\S+://\S+|\S+@\S+", message.text))}
        assert not latin, f"{template}/{locale} text has English words {latin}"
    if EXTRAS["coupon"]["code"] in message.html:
        assert EXTRAS["coupon"]["code"] in message.text  # the text part carries the same offer


@pytest.mark.parametrize("locale", LOCALES)
def test_promotions_vanish_without_marketing_consent(renderer: Renderer, locale: str) -> None:
    for template in ("welcome", "win-back", "cross-sell", "vip-surprise", "second-purchase"):
        message = renderer.render(template, locale, store=STORE, customer=CUSTOMERS[locale], order=ORDER,
                                  extra=EXTRAS, compliance=MessageCompliance(marketing=True))
        assert "WELCOME-7KX9QPMA" not in message.html + message.text
        assert "Tokoname Kyusu" not in message.html + message.text


def test_messages_show_what_they_are_about(renderer: Renderer) -> None:
    rules = MessageCompliance(marketing=True, promotions=True)

    def render(template: str, locale: str = "en", **extra: Any) -> str:
        message = renderer.render(template, locale, store=STORE, customer=CUSTOMERS[locale], order=ORDER,
                                  extra={**EXTRAS, **extra}, compliance=rules)
        return message.subject + message.text + message.html

    assert "https://kumo.example/checkout/c-77" in render("abandoned-cart")
    assert "Matcha Starter Set" in render("abandoned-cart-last", "ja")
    assert "Matcha Starter Set" in render("back-in-stock", "zh-Hans")
    assert "480" in render("thank-you", "ja")
    no_points = render("thank-you", "en", trigger={})
    assert "points" not in no_points.lower()
    cross = render("cross-sell")
    assert "Tokoname Kyusu" in cross and "Hojicha Roast" in cross
    assert "Aiko Tanaka" in render("vip-surprise", "ja")
    assert "Kumo Tea" in render("vip-surprise", "en", params={"sender_name": "", "sender_title": ""})
    assert "10%" in render("welcome")


def test_an_english_only_fallback_is_not_needed_for_a_customer_without_a_name(renderer: Renderer) -> None:
    rules = MessageCompliance(marketing=True, promotions=True)
    for template in TEMPLATES:
        for locale in LOCALES:
            message = renderer.render(template, locale, store=STORE, customer=replace(
                CUSTOMERS[locale], first_name=None, last_name=None), order=ORDER, extra=EXTRAS, compliance=rules)
            assert "None" not in message.subject and message.subject.strip()

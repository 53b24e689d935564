"""Localized email rendering: what a customer sees in the subject, the HTML and the text part."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError

from afterorder.content import Renderer, resolve_locale
from afterorder.content.formatting import format_money
from afterorder.content.greeting import greeting
from afterorder.content.i18n import first_locale, localized
from afterorder.content.inline import default_inliner
from afterorder.domain import (
    CustomerSnapshot,
    LineSnapshot,
    OrderSnapshot,
    ShipmentSnapshot,
    StoreSnapshot,
)

MESSAGES = ("order-confirmation", "shipping-confirmation", "delivery-follow-up")
LOCALES = ("en", "ja", "zh-Hans")

JP_STORE = StoreSnapshot(
    slug="kura",
    name="Kura & Co",
    email_from="shop@kura.example",
    reply_to="help@kura.example",
    country="JP",
    locale="ja-JP",
    timezone="Asia/Tokyo",
    currency="JPY",
    postal_address="東京都渋谷区神南1-2-3",
    support_email="help@kura.example",
    support_phone="03-1234-5678",
    support_url="https://kura.example/help",
    brand_color="#c0392b",
)
TARO = CustomerSnapshot(email="taro@example.jp", first_name="太郎", last_name="山田", timezone="Asia/Tokyo")
# 16:00 UTC on the 21st is already the 22nd in Tokyo.
PLACED = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
JP_ORDER = OrderSnapshot(
    number="1001",
    currency="JPY",
    placed_at=PLACED,
    lines=(
        LineSnapshot("南部鉄器 急須", 1, Decimal("12000"), variant="黒", image_url="https://cdn.example/kyusu.jpg"),
        LineSnapshot("有田焼 湯呑み", 2, Decimal("1500")),
    ),
    subtotal=Decimal("15000"),
    shipping=Decimal("0"),
    tax=Decimal("0"),
    total=Decimal("15000"),
    shipping_address={"name": "山田 太郎", "postal_code": "150-0041", "region": "東京都",
                      "city": "渋谷区", "line1": "神南1-2-3", "country": "JP"},
)
US_STORE = replace(JP_STORE, country="US", locale="en-US", timezone="America/New_York", currency="USD")
JANE = CustomerSnapshot(email="jane@example.com", first_name="Jane", last_name="Doe")
US_ORDER = OrderSnapshot(
    number="#2001",
    currency="USD",
    placed_at=datetime(2026, 11, 22, 15, 0, tzinfo=UTC),
    lines=(LineSnapshot("Travel mug", 1, Decimal("12.50")),),
    subtotal=Decimal("12.50"),
    discount=Decimal("2.00"),
    total=Decimal("10.50"),
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def test_japanese_order_confirmation_reads_like_a_japanese_store(renderer: Renderer) -> None:
    message = renderer.render("order-confirmation", "ja-JP", store=JP_STORE, customer=TARO, order=JP_ORDER)

    assert "1001" in message.subject
    for part in (message.html, message.text):
        assert "¥15,000" in part
        assert "￥" not in part
        assert "2026年11月22日" in part
        assert "山田 太郎 様" in part
        assert "1001" in part
        assert "〒150-0041" in part
    assert '<html lang="ja">' in message.html
    assert 'src="https://cdn.example/kyusu.jpg"' in message.html
    assert "無料" in message.html  # free shipping is said, not shown as ¥0


def test_html_carries_inlined_styles_and_the_brand_colour(renderer: Renderer) -> None:
    html = renderer.render("order-confirmation", "ja", store=JP_STORE, customer=TARO, order=JP_ORDER).html

    assert re.search(r'<table class="items"[^>]*style="[^"]*border-collapse: collapse', html)
    assert re.search(r'<h1[^>]*style="[^"]*font-size', html)
    assert re.search(r'<td class="header"[^>]*style="[^"]*background-color: #c0392b', html)
    body = html.split("<body", 1)[1]
    assert "<style" not in body  # nothing in the body relies on a stylesheet
    assert "@media" in html.split("<body", 1)[0]  # the responsive rule stays in the head


def test_english_confirmation_shows_dollars_and_the_discount(renderer: Renderer) -> None:
    message = renderer.render("order-confirmation", "en-US", store=US_STORE, customer=JANE, order=US_ORDER)

    assert message.subject == "Order #2001 confirmed – thank you!"
    assert "Hi Jane," in message.html
    assert "$12.50" in message.html and "$10.50" in message.text
    assert "Discount" in message.html and "$2.00" in message.html
    assert "November 22, 2026" in message.html
    assert "Shipping to" not in message.html  # no address given, no empty heading


def test_discount_row_only_when_there_is_a_discount(renderer: Renderer) -> None:
    message = renderer.render("order-confirmation", "ja", store=JP_STORE, customer=TARO, order=JP_ORDER)
    assert "割引" not in message.html


def test_chinese_confirmation(renderer: Renderer) -> None:
    store = replace(JP_STORE, country="CN", locale="zh-CN", timezone="Asia/Shanghai", currency="CNY")
    customer = CustomerSnapshot(email="wang@example.cn", first_name="小明", last_name="王")
    order = replace(JP_ORDER, currency="CNY", lines=(LineSnapshot("茶具", 1, Decimal("128")),),
                    subtotal=Decimal("128"), total=Decimal("128"), shipping_address={})
    message = renderer.render("order-confirmation", "zh_Hans_CN", store=store, customer=customer, order=order)

    assert "王小明，您好" in message.html
    assert "¥128.00" in message.html
    assert "2026年11月22日" in message.text
    assert '<html lang="zh-Hans">' in message.html
    assert "1001" in message.subject


def test_dates_are_shown_in_the_customers_time_zone_else_the_stores(renderer: Renderer) -> None:
    in_tokyo = renderer.render("order-confirmation", "en", store=JP_STORE, customer=JANE, order=JP_ORDER)
    in_la = renderer.render("order-confirmation", "en", store=JP_STORE,
                            customer=replace(JANE, timezone="America/Los_Angeles"), order=JP_ORDER)
    assert "November 22, 2026" in in_tokyo.text
    assert "November 21, 2026" in in_la.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("message_name", MESSAGES)
def test_every_message_renders_with_minimal_data(renderer: Renderer, message_name: str, locale: str) -> None:
    store = StoreSnapshot(slug="min", name="Minimal Store", email_from="a@min.example",
                          reply_to="a@min.example", country="US", locale="en", timezone="UTC", currency="USD")
    order = OrderSnapshot(number="42", currency="USD", placed_at=PLACED)

    message = renderer.render(message_name, locale, store=store, customer=None, order=order)

    assert message.subject and "\n" not in message.subject
    assert "Minimal Store" in message.html and "Minimal Store" in message.text
    assert "42" in message.text
    assert "None" not in message.html and "None" not in message.text


def test_built_in_messages_and_locales_are_listed(renderer: Renderer) -> None:
    assert set(MESSAGES) <= set(renderer.templates())
    assert "_layout" not in renderer.templates()
    for name in MESSAGES:
        assert renderer.locales_for(name) == sorted(LOCALES)


def test_shipping_confirmation_has_tracking_button_and_delivery_estimate(renderer: Renderer) -> None:
    shipment = ShipmentSnapshot(carrier="ヤマト運輸", tracking_number="1234-5678-9012",
                                tracking_url="https://track.example/1234?a=1&b=2",
                                estimated_delivery=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    ja = renderer.render("shipping-confirmation", "ja", store=JP_STORE, customer=TARO, order=JP_ORDER,
                         shipment=shipment)
    en = renderer.render("shipping-confirmation", "en", store=JP_STORE, customer=JANE,
                         order=replace(JP_ORDER, shipment=shipment))

    assert "ヤマト運輸" in ja.html and "1234-5678-9012" in ja.html
    assert "2026年11月24日" in ja.html
    button = re.search(r'<a class="button"[^>]*>配送状況を確認する</a>', ja.html)
    assert button and 'href="https://track.example/1234?a=1&amp;b=2"' in button.group()
    assert "Track your package" in en.html and "https://track.example/1234?a=1&b=2" in en.text
    assert "南部鉄器 急須" in ja.html


def test_shipping_confirmation_without_tracking_link_has_no_button(renderer: Renderer) -> None:
    shipment = ShipmentSnapshot(carrier="USPS", tracking_number="9400")
    message = renderer.render("shipping-confirmation", "en", store=US_STORE, customer=JANE, order=US_ORDER,
                              shipment=shipment)
    assert "9400" in message.html
    assert "Track your package" not in message.html
    assert "Estimated delivery" not in message.html


def test_delivery_follow_up_asks_and_points_to_support(renderer: Renderer) -> None:
    message = renderer.render("delivery-follow-up", "ja", store=JP_STORE, customer=TARO, order=JP_ORDER,
                              links={"review": "https://kura.example/review/1001"})
    assert "届きましたでしょうか" in message.subject
    assert "ご返信" in message.html and "help@kura.example" in message.html
    assert 'href="https://kura.example/review/1001"' in message.html
    assert "有田焼 湯呑み" in message.text


def test_customer_data_is_escaped_in_html(renderer: Renderer) -> None:
    attacker = CustomerSnapshot(email="x@example.com", first_name="<script>alert(1)</script>")
    order = replace(US_ORDER, lines=(LineSnapshot('<img src=x onerror="alert(2)">', 1, Decimal(1)),))
    message = renderer.render("order-confirmation", "en", store=US_STORE, customer=attacker, order=order)

    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "<img src=x" not in message.html
    assert "Kura &amp; Co" in message.html
    assert "Kura & Co" in message.text  # the text part is not HTML: no entities


def test_subject_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "order-confirmation"
    folder.mkdir()
    (folder / "en.html").write_text(
        "{% block subject %}\n  Thanks,\n  {{ customer.first_name }}!\n{% endblock %}"
        "{% block html %}<p>Hi</p>{% endblock %}{% block text %}Hi{% endblock %}",
        encoding="utf-8",
    )
    message = Renderer([tmp_path]).render("order-confirmation", "en", store=US_STORE, customer=JANE,
                                          order=US_ORDER)
    assert message.subject == "Thanks, Jane!"


def test_store_templates_override_built_ins_and_fall_back_per_locale(tmp_path: Path) -> None:
    (tmp_path / "order-confirmation").mkdir()
    (tmp_path / "order-confirmation" / "en.html").write_text(
        "{% block subject %}Custom {{ order.number }}{% endblock %}"
        '{% block html %}<p class="note">Custom body</p>{% endblock %}{% block text %}Custom{% endblock %}',
        encoding="utf-8",
    )
    renderer = Renderer([tmp_path])

    custom = renderer.render("order-confirmation", "en", store=US_STORE, customer=JANE, order=US_ORDER)
    built_in_ja = renderer.render("order-confirmation", "ja", store=JP_STORE, customer=TARO, order=JP_ORDER)

    assert custom.subject == "Custom #2001"
    assert re.search(r'<p class="note" style="[^"]*background-color', custom.html)  # layout CSS applies
    assert "ご注文ありがとうございます" in built_in_ja.subject


def test_missing_variable_is_an_error_not_a_blank(tmp_path: Path) -> None:
    (tmp_path / "welcome").mkdir()
    (tmp_path / "welcome" / "en.html").write_text(
        "{% block subject %}Hi{% endblock %}{% block html %}<p>{{ coupon_code }}</p>{% endblock %}"
        "{% block text %}{{ coupon_code }}{% endblock %}",
        encoding="utf-8",
    )
    renderer = Renderer([tmp_path])
    with pytest.raises(UndefinedError):
        renderer.render("welcome", "en", store=US_STORE, customer=JANE)
    ok = renderer.render("welcome", "en", store=US_STORE, customer=JANE, extra={"coupon_code": "THANKS10"})
    assert "THANKS10" in ok.html and "THANKS10" in ok.text


def test_jinja_statement_between_attributes_is_rejected_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "en.html").write_text(
        "{% block subject %}Hi{% endblock %}\n{% block html %}\n<td {% if x %}class=\"a\"{% endif %}>x</td>"
        "{% endblock %}{% block text %}x{% endblock %}",
        encoding="utf-8",
    )
    with pytest.raises(TemplateSyntaxError) as raised:
        Renderer([tmp_path]).render("bad", "en", store=US_STORE, customer=JANE)
    assert raised.value.lineno == 3


def test_unknown_message_is_not_found(renderer: Renderer) -> None:
    with pytest.raises(TemplateNotFound):
        renderer.render("no-such-message", "en", store=US_STORE, customer=JANE)
    with pytest.raises(TemplateNotFound):
        renderer.render("../_layout", "en", store=US_STORE, customer=JANE)


def test_css_is_inlined_when_a_template_loads_not_per_message() -> None:
    calls: list[str] = []
    inline = default_inliner()

    def counting_inliner(html: str, css: str) -> str:
        calls.append(html)
        return inline(html, css)

    renderer = Renderer(inline_css=counting_inliner)
    first = renderer.render("order-confirmation", "ja", store=JP_STORE, customer=TARO, order=JP_ORDER)
    after_first = len(calls)
    for name in ("花子", "次郎", "三郎"):
        again = renderer.render("order-confirmation", "ja", store=JP_STORE,
                                customer=replace(TARO, first_name=name), order=JP_ORDER)
        assert f"山田 {name} 様" in again.html
    assert after_first > 0
    assert len(calls) == after_first
    assert 'style="' in first.html

    renderer.render("order-confirmation", "en", store=JP_STORE, customer=TARO, order=JP_ORDER)
    after_second_locale = len(calls)
    renderer.render("order-confirmation", "en", store=JP_STORE, customer=TARO, order=JP_ORDER)
    assert len(calls) == after_second_locale


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("ja-JP", "ja"),
        ("ja", "ja"),
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-Hans", "zh-Hans"),
        ("zh_Hans_CN", "zh-Hans"),
        ("en-US", "en"),
        ("EN_gb", "en"),
        ("fr-FR", "ja"),  # unknown: the store's locale
        (None, "ja"),
        ("", "ja"),
        ("zh-TW", "ja"),  # Traditional Chinese is not Simplified: the store's locale
    ],
)
def test_resolve_locale(requested: str | None, expected: str) -> None:
    assert resolve_locale(requested, ["en", "ja", "zh-Hans"], "ja-JP") == expected


def test_resolve_locale_falls_back_to_english_then_to_what_exists() -> None:
    assert resolve_locale("fr", ["en", "ja"], "de-DE") == "en"
    assert resolve_locale("fr", ["ja"], "de-DE") == "ja"


def test_the_first_locale_given_is_chosen_else_english() -> None:
    assert first_locale([None, "", "zh-CN", "ja"], ["en", "ja", "zh-Hans"]) == "zh-Hans"
    assert first_locale([None, "fr"], ["en", "ja"]) == "en"
    assert first_locale([], ["en", "ja"]) == "en"


def test_localized_words_have_their_values_filled_in() -> None:
    tables = {"en": {"hi": "Hello from {store}", "bye": "Bye"}, "ja": {"hi": "{store}です", "bye": "さようなら"}}

    assert localized(tables, "ja-JP", store="くも") == {"hi": "くもです", "bye": "さようなら"}
    assert localized(tables, "fr", store="Kumo") == {"hi": "Hello from Kumo", "bye": "Bye"}


def test_render_falls_back_to_the_store_locale(renderer: Renderer) -> None:
    message = renderer.render("order-confirmation", "fr-FR", store=JP_STORE, customer=TARO, order=JP_ORDER)
    assert "山田 太郎 様" in message.html


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (Decimal("15000"), "JPY", "ja", "¥15,000"),
        (Decimal("12.5"), "USD", "en", "$12.50"),
        (Decimal("128"), "CNY", "zh-Hans", "¥128.00"),
    ],
)
def test_money(amount: Decimal, currency: str, locale: str, expected: str) -> None:
    assert format_money(amount, currency, locale) == expected


@pytest.mark.parametrize(
    ("locale", "first", "last", "expected"),
    [
        ("ja", "太郎", "山田", "山田 太郎 様"),
        ("ja", None, "山田", "山田 様"),
        ("ja", None, None, "お客様"),
        ("ja", "John", "Smith", "John Smith 様"),
        ("zh-Hans", "小明", "王", "王小明，您好"),
        ("zh-Hans", None, None, "尊敬的顾客，您好"),
        ("en", "Jane", "Doe", "Hi Jane,"),
        ("en", None, "Doe", "Hello,"),
    ],
)
def test_greeting(locale: str, first: str | None, last: str | None, expected: str) -> None:
    customer = CustomerSnapshot(email=None, first_name=first, last_name=last)
    assert greeting(locale, customer) == expected
    assert greeting("ja", None) == "お客様"


@pytest.mark.parametrize("expression", [
    "store.__class__.__mro__", "order.lines.__class__", "customer.__dataclass_fields__", "order.placed_at.__class__",
])
def test_a_store_template_cannot_reach_python_internals(tmp_path: Path, expression: str) -> None:
    from jinja2.exceptions import SecurityError

    folder = tmp_path / "order-confirmation"
    folder.mkdir()
    (folder / "en.html").write_text(
        "{% block subject %}x{% endblock %}"
        f"{{% block html %}}{{{{ {expression}.__subclasses__() }}}}{{% endblock %}}{{% block text %}}x{{% endblock %}}",
        encoding="utf-8",
    )
    with pytest.raises((SecurityError, UndefinedError)):
        Renderer([tmp_path]).render("order-confirmation", "en", store=US_STORE, customer=JANE, order=US_ORDER)

"""Every built-in message on LINE and SMS, in ja, zh-Hans and en, rendered from the real templates with an
order of several lines and a shipment: a LINE card that is valid JSON within LINE's limits whatever the
customer and product data hold, an SMS that names its sender, costs at most three segments once its
links are short, ends marketing with the way to opt out, and carries no 【】 in Chinese."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateError

from afterorder.channels.base import ChannelKind
from afterorder.channels.line_limits import LineLimitError
from afterorder.compliance.message import MessageCompliance
from afterorder.content import Renderer
from afterorder.content.line import LineRendered
from afterorder.content.render import BUILTIN_TEMPLATES
from afterorder.content.sms import SmsRendered
from afterorder.content.snapshots import order_snapshot
from afterorder.db.stores import StoreRow
from afterorder.domain import CustomerSnapshot, OrderSnapshot, StoreSnapshot
from afterorder.flows.followups import message_extra
from afterorder.signing import Signer
from afterorder.tracking.links import LinkContext, instrument_sms
from afterorder.tracking.settings import TrackingSettings
from tests.library_data import CONTENT, PLACED
from tests.library_data import STORE as STORE_ROW

LOCALES = ("ja", "zh-Hans", "en")
MESSAGES = sorted(p.name for p in BUILTIN_TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))
BASE = "https://ao.kumo.example"
NAMES = {"ja": "雲茶舗", "zh-Hans": "云茶铺", "en": "Kumo Tea"}
CUSTOMERS = {
    "ja": CustomerSnapshot(email="taro@example.jp", first_name="太郎", last_name="山田", locale="ja"),
    "zh-Hans": CustomerSnapshot(email="li@example.cn", first_name="小龙", last_name="李", locale="zh-Hans"),
    "en": CustomerSnapshot(email="emma@example.com", first_name="Emma", last_name="Smith", locale="en"),
}
LINES = [
    {"title": "Kyo-yaki teapot", "quantity": 1, "price": Decimal(12000), "product_id": "kyusu", "sku": "K-1",
     "image_url": "https://cdn.kumo.example/kyusu.jpg", "url": "https://kumo.example/p/kyusu", "category": "teaware",
     "variant": "white"},
    {"title": "Gyokuro 100g", "quantity": 2, "price": Decimal(3000), "product_id": "gyokuro", "sku": "G-1",
     "image_url": "https://cdn.kumo.example/gyokuro.jpg", "url": "https://kumo.example/p/gyokuro",
     "category": "tea", "variant": None},
    {"title": "Linen tea towel", "quantity": 3, "price": Decimal(900), "product_id": "towel", "sku": "T-1",
     "image_url": None, "url": None, "category": "teaware", "variant": None},
]
ORDER: dict[str, Any] = {
    "number": "#1001", "currency": "JPY", "placed_at": PLACED, "status": "shipped", "subtotal": Decimal(20700),
    "shipping": Decimal(600), "total": Decimal(21300),
    "shipping_address": {"name": "Emma Smith", "city": "Kyoto", "country": "JP"},
    "shipment": {"carrier": "Yamato", "tracking_number": "4321-8765-0001", "tracking_url": "https://track.example/4321",
                 "estimated_delivery": PLACED + timedelta(days=2)},
    "lines": LINES, "categories": ["tea", "teaware"], "how_to_parts": 3, "replenish_days": 30.0,
    "replenish_items": ["gyokuro"], "expected_ship_date": PLACED + timedelta(days=42), "nps_score": 10,
}
FLOW_EXTRAS: dict[str, Any] = {
    "trigger": {"checkout": {"id": "c-77", "url": "https://kumo.example/cart/c-77", "currency": "JPY",
                             "lines": [{**line, "price": str(line["price"])} for line in LINES[:2]]},
                "product": {"id": "kyusu", "title": "Kyo-yaki teapot", "url": "https://kumo.example/p/kyusu",
                            "image_url": "https://cdn.kumo.example/kyusu.jpg", "price": "12000", "currency": "JPY"},
                "properties": {"points": 480}},
    "coupon": {"code": "WELCOME-7KX9QPMA", "percent": 10, "amount": None, "expires_at": PLACED + timedelta(days=30)},
    "recommendations": [{"product_id": "hojicha", "title": "Hojicha roast", "price": Decimal(1800), "currency": "JPY",
                         "image_url": "https://cdn.kumo.example/hojicha.jpg", "url": "https://kumo.example/p/hojicha"}],
    "collection": [], "params": {"sender_name": "Aiko Tanaka", "sender_title": "Founder"},
}
TRANSACTIONAL = MessageCompliance()
MARKETING = MessageCompliance(marketing=True, promotions=True, unsubscribe_url=f"{BASE}/u/kumo/t",
                              preferences_url=f"{BASE}/preferences/kumo/t")
OPT_OUT = {"ja": "配信停止は「停止」とご返信ください", "zh-Hans": "拒收请回复R", "en": "Reply STOP to opt out"}
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|\bNone\b|\bundefined\b|\[\]|Undefined")
LATIN_WORDS = re.compile(r"\b(the|your|order|and|with|thank|you|shipped|please)\b", re.IGNORECASE)
DATA_WORDS = re.compile(r"https?://\S+|[\w.+-]+@[\w.-]+|Kyo-yaki teapot|Gyokuro 100g|Linen tea towel|Hojicha roast|"
                        r"Yamato|Instagram|Kumo Tea|NPS|Aiko Tanaka|Founder|white|WELCOME-7KX9QPMA|#kumotea|"
                        r"The box arrived crushed\.")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def store(locale: str) -> StoreSnapshot:
    return replace(STORE_ROW.snapshot(BASE), name=NAMES[locale])


def extra(template: str, locale: str) -> dict[str, Any]:
    if template == "nps-store-alert":
        return {**FLOW_EXTRAS, "score": 3, "comment": "The box arrived crushed.", "customer_email": "emma@example.com"}
    row = StoreRow(**{**STORE_ROW.__dict__, "name": NAMES[locale]})
    library = message_extra(row, Signer(row.signing_key), BASE, CONTENT, {"customer_id": 7, "order_id": 11}, ORDER,
                            {"order_count": 3}, template)(locale)
    return {**FLOW_EXTRAS, **library}


def data(template: str, locale: str, rules: MessageCompliance, *, customer: CustomerSnapshot | None = None,
         order: OrderSnapshot | None = None) -> dict[str, Any]:
    found = order or order_snapshot(ORDER)
    return {"store": store(locale), "customer": customer or CUSTOMERS[locale], "order": found,
            "shipment": found.shipment if found else None, "extra": extra(template, locale), "compliance": rules}


def texts(node: Any) -> list[str]:
    """Every string a LINE message shows (texts, labels, altText)."""
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k in ("text", "label", "altText") and isinstance(v, str)]
        return own + [t for k, v in node.items() if k not in ("text", "label", "altText") for t in texts(v)]
    if isinstance(node, list):
        return [t for item in node for t in texts(item)]
    return []


def shape(node: Any) -> Any:
    """The structure of a LINE message without its strings: what an injection would change."""
    if isinstance(node, dict):
        return {k: shape(v) for k, v in node.items() if not isinstance(v, str) or k in ("type", "layout")}
    if isinstance(node, list):
        return [shape(item) for item in node]
    return node


def short(rendered: SmsRendered, locale: str) -> SmsRendered:
    ctx = LinkContext(Signer("k" * 64), 12, "run:1234567:step:3", BASE, "flow", "template",
                      TrackingSettings(domains=("kumo.example",)))
    return instrument_sms(rendered, ctx)


@pytest.mark.parametrize("template", MESSAGES)
def test_every_message_has_a_line_and_an_sms_version_in_three_languages(renderer: Renderer, template: str) -> None:
    assert renderer.channels_of(template) == {ChannelKind.EMAIL, ChannelKind.LINE, ChannelKind.SMS}
    for channel in (ChannelKind.LINE, ChannelKind.SMS):
        assert set(LOCALES) <= set(renderer.locales_for(template, channel)), (template, channel)


@pytest.mark.parametrize("rules", [TRANSACTIONAL, MARKETING], ids=["transactional", "marketing"])
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", MESSAGES)
def test_the_line_card(renderer: Renderer, template: str, locale: str, rules: MessageCompliance) -> None:
    card = renderer.render_line(template, locale, **data(template, locale, rules))
    assert json.loads(json.dumps({"messages": card.messages})) == {"messages": card.messages}
    assert json.loads(card.payload()) == {"messages": card.messages}
    [message] = card.messages
    assert message["type"] == "flex" and message["contents"]["type"] == "bubble"
    assert card.alt_text.strip() and card.alt_text == message["altText"] and len(card.alt_text) <= 1_500
    shown = texts(card.messages)
    assert all(text.strip() for text in shown), "LINE refuses an empty text"
    for text in shown:
        assert not LEFTOVERS.search(text), (template, locale, text)
    if locale != "en":
        for text in shown:
            assert not LATIN_WORDS.search(DATA_WORDS.sub(" ", text)), (template, locale, text)
    button = message["contents"].get("footer", {}).get("contents", [{}])[0].get("action", {})
    assert len(button.get("label", "")) <= 20
    if template == "order-confirmation":
        assert {"Kyo-yaki teapot", "Gyokuro 100g", "Linen tea towel"} <= set(shown)
        assert "¥21,300" in shown or "JP¥21,300" in shown, "the total"
        images = [n["url"] for n in json.loads(card.payload())["messages"][0]["contents"]["body"]["contents"][4:7]
                  for n in n.get("contents", []) if n.get("type") == "image"]
        assert images == ["https://cdn.kumo.example/kyusu.jpg", "https://cdn.kumo.example/gyokuro.jpg"]


@pytest.mark.parametrize("rules", [TRANSACTIONAL, MARKETING], ids=["transactional", "marketing"])
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", MESSAGES)
def test_the_sms(renderer: Renderer, template: str, locale: str, rules: MessageCompliance) -> None:
    sms = short(renderer.render_sms(template, locale, **data(template, locale, rules)), locale)
    assert sms.text.strip() and not LEFTOVERS.search(sms.text), (template, locale, sms.text)
    assert sms.segments <= 3 and sms.warning is None, (template, locale, sms.segments, sms.text)
    assert sms.encoding == ("GSM-7" if locale == "en" else "UCS-2"), (template, locale, sms.text)
    assert len(re.findall(r"https?://", sms.text)) <= 1, "one link"
    assert all(link.startswith(f"{BASE}/c/") for link in re.findall(r"https?://\S+", sms.text))
    if locale == "ja":
        assert sms.text.startswith("【雲茶舗】")
    elif locale == "en":
        assert sms.text.startswith("Kumo Tea: ")
    else:
        assert "【" not in sms.text and "】" not in sms.text, "the provider adds the approved signature"
    last = sms.text.splitlines()[-1]
    assert (last == OPT_OUT[locale]) is rules.marketing, (template, locale, last)
    if locale != "en":
        assert not LATIN_WORDS.search(DATA_WORDS.sub(" ", sms.text)), (template, locale, sms.text)


def test_hostile_customer_and_product_data_stays_text(renderer: Renderer) -> None:
    customer = CustomerSnapshot(email="x@example.com", first_name='"}]<script>', last_name='\\"},{"type":"x',
                                locale="en")
    title = 'Tea "Gyokuro"\n}]},{"type":"text","text":"injected"}'
    order = order_snapshot({**ORDER, "lines": [{**LINES[0], "title": title}, *LINES[1:]]})
    for template in MESSAGES:
        for locale in ("ja", "en"):
            plain = renderer.render_line(template, locale, **data(template, locale, MARKETING))
            hostile = renderer.render_line(template, locale, **data(template, locale, MARKETING, customer=customer,
                                                                   order=order))
            assert json.loads(hostile.payload())["messages"] == hostile.messages
            assert shape(hostile.messages) == shape(plain.messages), f"{template}/{locale}: the card changed shape"
    card = renderer.render_line("order-confirmation", "en", **data("order-confirmation", "en", MARKETING,
                                                                    customer=customer, order=order))
    shown = texts(card.messages)
    assert 'Tea "Gyokuro" }]},{"type":"text","text":"injected"}' in shown, "the title, on one line, as text"
    assert any('Hi "}]<script>,' in text for text in shown)
    sms = renderer.render_sms("shipping-confirmation", "en", **data("shipping-confirmation", "en", MARKETING,
                                                                    customer=customer, order=order))
    assert sms.params["name"] == '"}]<script>'


def test_the_sms_params_a_provider_template_needs(renderer: Renderer) -> None:
    sms = short(renderer.render_sms("shipping-confirmation", "zh-Hans",
                                    **data("shipping-confirmation", "zh-Hans", TRANSACTIONAL)), "zh-Hans")
    assert sms.params == {"name": "李小龙", "store": "云茶铺", "order": "#1001", "total": sms.params["total"],
                          "carrier": "大和运输", "tracking": "4321-8765-0001", "date": "2026年11月4日",
                          "link": re.search(r"https://\S+", sms.text).group(0)}
    assert sms.links == ("https://track.example/4321",)
    assert "code" not in sms.params, "no coupon without promotions"


def test_offers_show_only_to_customers_who_may_receive_them(renderer: Renderer) -> None:
    for locale in LOCALES:
        for rules, shown in ((TRANSACTIONAL, False), (MARKETING, True)):
            line = renderer.render_line("welcome", locale, **data("welcome", locale, rules))
            sms = renderer.render_sms("welcome", locale, **data("welcome", locale, rules))
            assert ("WELCOME-7KX9QPMA" in line.payload()) is shown and ("WELCOME-7KX9QPMA" in sms.text) is shown
            assert ("code" in sms.params) is shown


def test_the_nps_card_has_eleven_score_buttons(renderer: Renderer) -> None:
    card = renderer.render_line("nps", "ja", **data("nps", "ja", TRANSACTIONAL))
    uris = re.findall(r'"uri":\s*"([^"]+)"', card.payload())
    assert [u.rsplit("/", 1)[1] for u in uris] == [str(s) for s in range(11)]
    assert all(u.startswith(f"{BASE}/s/kumo/nps/") for u in uris)
    sms = renderer.render_sms("nps", "en", **data("nps", "en", TRANSACTIONAL))
    assert re.search(rf"{BASE}/s/kumo/nps/[\w.-]+$", sms.text.splitlines()[-1]), "one link, to the 0–10 page"


def test_a_line_file_is_checked_with_sample_data_when_it_loads(tmp_path: Path) -> None:
    folder = tmp_path / "order-confirmation"
    folder.mkdir()
    # fine for Emma; over LINE's altText limit for the sample customer (花子) the load check renders for
    (folder / "ja.line.json").write_text(
        '{% block alt_text %}{% if customer.first_name == "花子" %}{{ "あ" * 2000 }}{% endif %}ご注文{% endblock %}'
        "{% block title %}ご注文{% endblock %}{% block body %}ありがとうございます{% endblock %}", encoding="utf-8")
    renderer = Renderer([tmp_path])
    with pytest.raises(LineLimitError) as caught:
        renderer.render_line("order-confirmation", "ja", **data("order-confirmation", "ja", TRANSACTIONAL))
    assert caught.value.limit == "altText ≤ 1,500 characters"
    (folder / "en.line.json").write_text(
        "{% block title %}x{% endblock %}{% block body %}{% for i in range(3000) %}all work and no play {% endfor %}"
        "{% endblock %}", encoding="utf-8")
    with pytest.raises(LineLimitError, match=r"bubble ≤ 30 KB"):
        Renderer([tmp_path]).render_line("order-confirmation", "en", **data("order-confirmation", "en", TRANSACTIONAL))
    (folder / "zh-Hans.sms.txt").write_text("{% block text %}{% if true %}{% block promo %}x{% endblock %}"
                                            "{% endif %}{% endblock %}", encoding="utf-8")
    with pytest.raises(TemplateError, match="top level"):
        Renderer([tmp_path]).render_sms("order-confirmation", "zh-Hans",
                                        **data("order-confirmation", "zh-Hans", TRANSACTIONAL))


def test_a_store_version_of_a_line_or_sms_file_wins(renderer: Renderer) -> None:
    own = Renderer(overrides={"order-confirmation/ja.sms.txt": "{% block text %}ご注文{{ order.number }}を承りました"
                                                               "{% endblock %}",
                              "order-confirmation/ja.line.json": "{% set items = [] %}{% block title %}承りました"
                                                                 "{% endblock %}{% block body %}{{ greeting }}"
                                                                 "{% endblock %}"})
    sms = own.render_sms("order-confirmation", "ja", **data("order-confirmation", "ja", TRANSACTIONAL))
    assert sms.text == "【雲茶舗】ご注文#1001を承りました" and (sms.segments, sms.encoding) == (1, "UCS-2")
    card = own.render_line("order-confirmation", "ja", **data("order-confirmation", "ja", TRANSACTIONAL))
    assert texts(card.messages) == ["承りました", "雲茶舗", "承りました", "山田 太郎 様"]
    assert isinstance(card, LineRendered)
    assert renderer.render_sms("order-confirmation", "ja", **data("order-confirmation", "ja", TRANSACTIONAL)).text \
        != sms.text, "the built-in renderer is not touched"


def test_a_locale_without_a_variant_falls_back_like_email(renderer: Renderer) -> None:
    sms = renderer.render_sms("shipping-confirmation", "fr", **data("shipping-confirmation", "ja", TRANSACTIONAL))
    assert sms.text.startswith("【雲茶舗】ご注文（#1001）の商品を発送いたしました。"), "the store's language"
    card = renderer.render_line("shipping-confirmation", "zh_Hans_CN",
                                **data("shipping-confirmation", "zh-Hans", TRANSACTIONAL))
    assert card.alt_text == "您的订单 #1001 已发货"


@pytest.mark.parametrize("template", MESSAGES)
def test_whatever_the_email_renders_from_the_line_and_sms_versions_render_from_too(renderer: Renderer,
                                                                                   template: str) -> None:
    """A customer-level flow has no order; a flow step may give no extras: where the email copes, so do they."""
    compared = 0
    for locale in LOCALES:
        for customer, order, given in ((CUSTOMERS[locale], order_snapshot(ORDER), extra(template, locale)),
                                       (CUSTOMERS[locale], None, extra(template, locale)), (None, None, None),
                                       (None, order_snapshot(ORDER), None)):
            found = {"store": store(locale), "customer": customer, "order": order, "extra": given}
            try:
                renderer.render(template, locale, **found)
            except TemplateError:
                continue
            renderer.render_line(template, locale, **found)
            renderer.render_sms(template, locale, **found)
            compared += 1
    assert compared, "the email renders from at least one of these"

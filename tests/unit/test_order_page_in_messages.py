"""Every built-in transactional message about an order (the library's flows started by an order
event) links to the customer's order page, in every locale and on every channel it is written for:
the email's HTML and text, the LINE card, the SMS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from afterorder.channels.base import ChannelKind
from afterorder.content import Renderer
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from tests.library_data import CUSTOMERS, ORDER, STORE, library_extra

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "afterorder" / "flows" / "library"
URL = "https://ao.kumo.example/o/kumo/WzExLDAsMjE1NzBd.c2lnbmVkLXRva2VuLXg"
LOCALES = ("en", "ja", "zh-Hans")


def _sends(steps: Any) -> Iterator[dict[str, Any]]:
    for step in steps or []:
        if isinstance(step, dict):
            if "send" in step:
                yield step["send"]
            for branch in ("then", "else"):
                yield from _sends(step.get(branch))


def order_messages() -> list[str]:
    found = set()
    for path in LIBRARY.glob("*.yaml"):
        flow = yaml.safe_load(path.read_text())
        trigger = flow["trigger"] if isinstance(flow["trigger"], str) else flow["trigger"]["event"]
        if trigger.startswith("order."):
            found |= {s["template"] for s in _sends(flow["steps"]) if s.get("category") == "transactional"}
    return sorted(found)


def test_the_library_s_order_messages_are_all_checked() -> None:
    assert {"order-confirmation", "shipping-confirmation", "international-in-transit", "delivery-follow-up",
            "made-to-order", "thank-you", "nps"} <= set(order_messages())


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _data(template: str, locale: str) -> dict[str, Any]:
    return {"store": STORE.snapshot("https://ao.kumo.example"), "customer": customer_snapshot(CUSTOMERS[locale]),
            "order": order_snapshot(ORDER), "extra": {**library_extra(template, locale), "order_url": URL}}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", order_messages())
def test_every_order_message_links_to_the_order_page(renderer: Renderer, template: str, locale: str) -> None:
    mail = renderer.render(template, locale, **_data(template, locale))
    assert f'href="{URL}"' in mail.html and URL in mail.text
    channels = renderer.channels_of(template)
    if ChannelKind.LINE in channels:
        card = json.loads(renderer.render_line(template, locale, **_data(template, locale)).payload())
        uris = [a["action"]["uri"] for a in card["messages"][0]["contents"]["footer"]["contents"]]
        assert URL in uris
    if ChannelKind.SMS in channels:
        assert URL in renderer.render_sms(template, locale, **_data(template, locale)).text


def test_without_an_order_page_the_messages_are_as_before(renderer: Renderer) -> None:
    data = _data("shipping-confirmation", "ja")
    data["extra"].pop("order_url")
    mail = renderer.render("shipping-confirmation", "ja", **data)
    assert "/o/" not in mail.html and "ご注文の詳細" not in mail.text


def test_the_order_page_button_does_not_repeat_the_card_s_own(renderer: Renderer) -> None:
    """The order confirmation's own button already goes to the order page: one button, not two."""
    card = json.loads(renderer.render_line("order-confirmation", "ja", **_data("order-confirmation", "ja")).payload())
    footer = card["messages"][0]["contents"]["footer"]["contents"]
    assert [a["action"]["uri"] for a in footer] == [URL]


@pytest.mark.parametrize("locale", LOCALES)
def test_a_shipment_naming_only_its_carrier_gets_the_carrier_s_link_in_the_messages(renderer: Renderer,
                                                                                     locale: str) -> None:
    row = {**ORDER, "shipment": {"carrier": "佐川急便", "tracking_number": "3600-1234-5678"}}
    data = {**_data("shipping-confirmation", locale), "order": order_snapshot(row)}
    data["extra"].pop("order_url")
    link = "https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do?okurijoNo=360012345678"
    mail = renderer.render("shipping-confirmation", locale, **data)
    assert link in mail.text and f'href="{link}"' in mail.html
    assert link in renderer.render_sms("shipping-confirmation", locale, **data).text
    unknown = order_snapshot({**ORDER, "shipment": {"carrier": "Kangaroo", "tracking_number": "K-1"}})
    assert unknown is not None and unknown.shipment is not None and unknown.shipment.tracking_url is None
    assert "K-1" in renderer.render("shipping-confirmation", locale, **{**data, "order": unknown}).text


@pytest.mark.parametrize(("locale", "given", "shown"), [
    ("ja", "Yamato Transport", "ヤマト運輸"), ("zh-Hans", "SF Express", "顺丰速运"),
    ("en", "ヤマト運輸", "Yamato Transport"), ("ja", "Kangaroo Couriers", "Kangaroo Couriers"),
])
def test_messages_name_a_known_carrier_in_the_customer_s_language(renderer: Renderer, locale: str, given: str,
                                                                  shown: str) -> None:
    row = {**ORDER, "shipment": {"carrier": given, "tracking_number": "123456789012"}}
    data = {**_data("shipping-confirmation", locale), "order": order_snapshot(row)}
    assert shown in renderer.render("shipping-confirmation", locale, **data).text
    card = renderer.render_line("shipping-confirmation", locale, **data).payload()
    assert shown in json.loads(card)["messages"][0]["contents"]["body"]["contents"][2]["text"]

"""The carrier table: a shipment that names a carrier but no link gets the carrier's tracking page;
an unknown carrier's number gets no link."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from afterorder.content.carriers import CARRIERS, carrier_name, find_carrier, tracking_link

REQUIRED = {
    "ヤマト運輸": "yamato", "佐川急便": "sagawa", "日本郵便": "japanpost", "西濃運輸": "seino", "福山通運": "fukuyama",
    "顺丰": "sf", "中通": "zto", "圆通": "yto", "韵达": "yunda", "京东物流": "jd",
    "中国邮政": "chinapost", "EMS": "chinapost",
    "DHL": "dhl", "FedEx": "fedex", "UPS": "ups", "USPS": "usps",
}


@pytest.mark.parametrize(("name", "code"), REQUIRED.items())
def test_the_issue_s_carriers_are_known_by_their_own_names(name: str, code: str) -> None:
    carrier = find_carrier(name)
    assert carrier is not None and carrier.code == code


@pytest.mark.parametrize(("name", "code"), [
    ("Yamato", "yamato"), ("クロネコヤマト", "yamato"), ("yamato-transport", "yamato"), ("ＹＡＭＡＴＯ", "yamato"),
    ("Sagawa Express", "sagawa"), ("ゆうパック", "japanpost"), ("Japan Post", "japanpost"),
    ("SF Express", "sf"), ("顺丰速运", "sf"), ("ZTO Express", "zto"), ("YTO", "yto"), ("Yunda", "yunda"),
    ("JD Logistics", "jd"), ("China Post", "chinapost"), ("中国邮政/EMS", "chinapost"), ("fedex", "fedex"),
    ("United Parcel Service", "ups"), ("U.S.P.S.", "usps"),
])
def test_other_spellings_are_recognised(name: str, code: str) -> None:
    carrier = find_carrier(name)
    assert carrier is not None and carrier.code == code


def test_every_carrier_has_three_names_an_https_pattern_and_a_format() -> None:
    for carrier in CARRIERS:
        assert set(carrier.names) == {"ja", "zh-Hans", "en"}
        assert carrier.tracking_url.startswith("https://") and "{number}" in carrier.tracking_url
        re.compile(carrier.number_format)


def test_a_named_carrier_without_a_link_gets_its_tracking_page_with_the_number() -> None:
    link = tracking_link("ヤマト運輸", "1234-5678-9012")
    assert link is not None and urlsplit(link).netloc == "toi.kuronekoyamato.co.jp"
    assert link.endswith("=123456789012")
    sf = tracking_link("顺丰", "SF1234567890123")
    assert sf is not None and "sf-express.com" in sf and sf.endswith("SF1234567890123")
    ups = tracking_link("UPS", "1Z999AA10123456784")
    assert ups == "https://www.ups.com/track?tracknum=1Z999AA10123456784"


def test_the_shipment_s_own_link_wins_and_an_unknown_carrier_gets_none() -> None:
    assert tracking_link("Yamato", "123456789012", "https://shop.example/track/1") == "https://shop.example/track/1"
    assert tracking_link("Kangaroo Couriers", "ABC123") is None
    assert tracking_link(None, "ABC123") is None
    assert tracking_link("Yamato", None) is None
    assert tracking_link("Kangaroo", "1", "javascript:alert(1)") is None


def test_numbers_are_checked_against_the_carrier_s_format() -> None:
    yamato = find_carrier("yamato")
    assert yamato is not None and yamato.looks_valid("１２３４５６７８９０１２") and not yamato.looks_valid("12345")
    post = find_carrier("日本郵便")
    assert post is not None and post.looks_valid("EJ123456789JP")


def test_names_are_shown_in_the_customer_s_language() -> None:
    assert carrier_name("Yamato", "ja") == "ヤマト運輸"
    assert carrier_name("顺丰", "en") == "SF Express"
    assert carrier_name("yamato", "zh-Hans") == "大和运输"
    assert carrier_name("Kangaroo Couriers", "ja") == "Kangaroo Couriers"
    assert carrier_name(None, "ja") is None

"""Pure parts of compliance: marketing rules, quiet hours, settings parsing, tokens, promo blocks."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from jinja2 import TemplateError

from afterorder.compliance import tokens
from afterorder.compliance.caps import quiet_until
from afterorder.compliance.consent import marketing_allowed
from afterorder.compliance.footer import ad_prefix
from afterorder.compliance.message import MessageCompliance
from afterorder.compliance.settings import Cap, MarketingRule, SettingsError, default_rule, parse_cap, parse_quiet_hours
from afterorder.content import Renderer
from afterorder.domain import StoreSnapshot
from afterorder.signing import BadToken, Signer, new_signing_key

OPT_IN, SOFT, OPT_OUT = MarketingRule.OPT_IN, MarketingRule.SOFT_OPT_IN, MarketingRule.OPT_OUT


@pytest.mark.parametrize(("country", "rule"), [
    ("JP", OPT_IN), ("CN", OPT_IN), ("CA", OPT_IN), ("US", OPT_OUT), ("DE", SOFT), ("GB", SOFT), ("fr", SOFT)])
def test_each_country_starts_with_its_laws_rule(country: str, rule: MarketingRule) -> None:
    assert default_rule(country) is rule


@pytest.mark.parametrize(("rule", "status", "bought", "allowed"), [
    (OPT_IN, None, True, False), (OPT_IN, "granted", False, True), (OPT_IN, "pending", True, False),
    (SOFT, None, True, True), (SOFT, None, False, False), (SOFT, "withdrawn", True, False),
    (SOFT, "pending", True, False), (SOFT, "granted", False, True),
    (OPT_OUT, None, False, True), (OPT_OUT, "withdrawn", True, False),
])
def test_marketing_rules(rule: MarketingRule, status: str | None, bought: bool, allowed: bool) -> None:
    assert marketing_allowed(rule, status, bought) is allowed


TOKYO_2300 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo


def test_quiet_hours_over_midnight_end_the_next_morning_in_the_customers_zone() -> None:
    assert quiet_until(TOKYO_2300, time(21), time(8), "Asia/Tokyo", "UTC") == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    after_midnight = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 01:30 in Tokyo
    assert quiet_until(after_midnight, time(21), time(8), "Asia/Tokyo", "UTC") == datetime(
        2026, 11, 22, 23, 0, tzinfo=UTC)
    assert quiet_until(TOKYO_2300, time(21), time(8), None, "Europe/Berlin") is None  # 15:00 in Berlin
    assert quiet_until(TOKYO_2300, None, None, "Asia/Tokyo", "UTC") is None


def test_quiet_hours_within_a_day() -> None:
    noon_utc = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
    assert quiet_until(noon_utc, time(12), time(14), "UTC", "UTC") == datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
    assert quiet_until(noon_utc, time(13), time(14), "UTC", "UTC") is None


def test_quiet_hours_use_the_store_zone_when_the_customers_is_unknown() -> None:
    assert quiet_until(TOKYO_2300, time(21), time(8), "Not/AZone", "Asia/Tokyo") is not None


def test_settings_are_parsed_or_refused_with_the_reason() -> None:
    assert parse_quiet_hours("21:00-08:00") == (time(21), time(8))
    assert parse_quiet_hours("off") is None
    assert parse_cap("email:3/168") == ("email", Cap(3, 168))
    assert parse_cap("sms:off") == ("sms", None)
    for bad in ("21-8", "25:00-08:00", "08:00-08:00"):
        with pytest.raises(SettingsError, match="quiet hours"):
            parse_quiet_hours(bad)
    for bad in ("email", "email:3", "email:x/1", "email:3/0", ":3/1"):
        with pytest.raises(SettingsError, match="cap"):
            parse_cap(bad)


def test_unsubscribe_tokens_name_customer_and_message_and_fit_in_a_local_part() -> None:
    signer = Signer(new_signing_key())
    ref = tokens.MessageRef(customer_id=123456, run_id=9876543, step=2)
    token = tokens.unsubscribe_token(signer, ref)
    assert tokens.read_unsubscribe(signer, token) == ref
    assert ref.idempotency_key == "run:9876543:step:2"
    assert len("unsubscribe+" + token) <= 64
    with pytest.raises(BadToken):
        tokens.read_preferences(signer, token)  # a token for one page never opens another
    with pytest.raises(BadToken):
        tokens.read_unsubscribe(Signer(new_signing_key()), token)
    with pytest.raises(BadToken):
        tokens.read_unsubscribe(signer, signer.sign(tokens.UNSUBSCRIBE, {"c": 1}))


def test_china_prefix_is_chinese_for_chinese_mail() -> None:
    assert ad_prefix("zh-Hans") == ad_prefix("zh-CN") == "【广告】"
    assert ad_prefix("en") == ad_prefix("ja") == "[AD] "


STORE = StoreSnapshot(slug="h", name="Harbor Goods", email_from="a@h.example", reply_to="a@h.example", country="US",
                      locale="en", timezone="UTC", currency="USD", postal_address="1 Harbor St")


def test_a_promo_block_hidden_inside_another_block_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sneaky").mkdir()
    (tmp_path / "sneaky" / "en.html").write_text(
        "{% block subject %}Hi{% endblock %}{% block html %}<p>Hi</p>{% block promo %}BUY{% endblock %}"
        "{% endblock %}{% block text %}Hi{% endblock %}")
    with pytest.raises(TemplateError, match="top level"):
        Renderer([tmp_path]).render("sneaky", "en", store=STORE, customer=None)


def test_marketing_footer_and_subject_prefix_come_from_the_layout(tmp_path: Path) -> None:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "en.html").write_text(
        "{% block subject %}News{% endblock %}{% block html %}<p>Body</p>{% endblock %}"
        "{% block promo %}<p>COUPON</p>{% endblock %}{% block text %}Body{% endblock %}"
        "{% block promo_text %}COUPON{% endblock %}")
    renderer = Renderer([tmp_path])
    plain = renderer.render("news", "en", store=STORE, customer=None)
    assert "COUPON" not in plain.html and "COUPON" not in plain.text and plain.subject == "News"
    rules = MessageCompliance(marketing=True, promotions=True, subject_prefix="[AD] ",
                              unsubscribe_url="https://x.example/u/h/t", preferences_url="https://x.example/p")
    marketing = renderer.render("news", "en", store=STORE, customer=None, compliance=rules)
    assert marketing.subject == "[AD] News"
    assert "COUPON" in marketing.html and "COUPON" in marketing.text
    assert 'href="https://x.example/u/h/t"' in marketing.html
    assert "Unsubscribe: https://x.example/u/h/t" in marketing.text
    assert "Sent by: Harbor Goods" in marketing.text and "Address: 1 Harbor St" in marketing.text

"""Setting up LINE, Twilio and Alibaba Cloud SMS: every wrong option named, secrets apart, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from afterorder.channels.aliyun_sms import out_id, phone_numbers, template_codes
from afterorder.channels.catalog import PROVIDERS, provider
from afterorder.channels.options import OptionsError

SID = "AC" + "a" * 32
TWILIO = {"account_sid": SID, "auth_token": "secret-token", "from": "+14155552345"}
ALIYUN = {"access_key_id": "LTAI5tExample", "access_key_secret": "s3cret", "sign_name": "京都茶舗",
          "templates": {"shipping": "SMS_15305001"}}
LINE = {"channel_access_token": "token", "channel_secret": "secret"}


def refusal(name: str, given: dict[str, Any]) -> OptionsError:
    with pytest.raises(OptionsError) as raised:
        provider(name).check(given)
    return raised.value


def test_the_catalog_has_line_twilio_and_aliyun_sms() -> None:
    assert {"line", "twilio", "aliyun_sms"} <= set(PROVIDERS)
    assert provider("line").default_rate == 2_000
    assert provider("line").default_api_base == "https://api.line.me"
    assert provider("twilio").default_api_base == "https://api.twilio.com"
    assert provider("aliyun_sms").default_api_base == "https://dysmsapi.aliyuncs.com"


def test_twilio_from_is_spelled_from_when_given_stored_and_shown() -> None:
    spec = provider("twilio")

    settings, secrets = spec.split(spec.check(TWILIO))

    assert settings == {"account_sid": SID, "from": "+14155552345"}
    assert secrets == {"auth_token": "secret-token"}
    assert spec.check({**settings, **secrets}) == spec.check(TWILIO)  # what is stored reads back
    assert spec.masked(settings, list(secrets))["auth_token"] == "********"


@pytest.mark.parametrize("senders", [{}, {"from": "+14155552345", "messaging_service_sid": "MG" + "b" * 32}])
def test_twilio_takes_exactly_one_sender_and_says_which_two(senders: dict[str, str]) -> None:
    given = {"account_sid": SID, "auth_token": "t", **senders}

    error = refusal("twilio", given)

    assert "from" in str(error) and "messaging_service_sid" in str(error)


def test_twilio_options_name_each_wrong_one() -> None:
    error = refusal("twilio", {"account_sid": "12345", "from": "+1415", "status_callback": "ftp://x",
                               "api_base": "api.twilio.com"})

    assert set(error.fields) == {"account_sid", "auth_token", "status_callback", "api_base"}
    assert error.fields["auth_token"] == "required"


def test_twilio_from_underscore_is_not_an_option() -> None:
    assert refusal("twilio", {**{k: v for k, v in TWILIO.items() if k != "from"}, "from_": "+1"}).fields == {
        "from_": "not an option of this provider"}


def test_aliyun_options_keep_templates_plain_and_the_secret_sealed() -> None:
    spec = provider("aliyun_sms")

    settings, secrets = spec.split(spec.check(ALIYUN))

    assert secrets == {"access_key_secret": "s3cret"}
    assert settings["templates"] == {"shipping": "SMS_15305001"}
    assert settings["region_id"] == "cn-hangzhou"
    assert template_codes(settings) == {"shipping": "SMS_15305001"}


def test_a_flow_check_can_ask_whether_a_message_has_an_approved_code() -> None:
    codes = template_codes({"templates": {"shipping": "SMS_15305001"}})

    assert "shipping" in codes and "review_request" not in codes
    assert template_codes({}) == {}


@pytest.mark.parametrize(("change", "field"), [
    ({"sign_name": "【京都茶舗】"}, "sign_name"),
    ({"sign_name": ""}, "sign_name"),
    ({"templates": {"shipping": "shipping notice"}}, "templates"),
    ({"access_key_secret": ""}, "access_key_secret"),
])
def test_aliyun_options_name_the_wrong_one(change: dict[str, Any], field: str) -> None:
    assert field in refusal("aliyun_sms", {**ALIYUN, **change}).fields


def test_aliyun_phone_numbers_as_the_reference_takes_them() -> None:
    assert phone_numbers("+8613800138000") == "13800138000"
    assert phone_numbers("+85291234567") == "85291234567"
    assert phone_numbers("+819012345678") == "819012345678"


def test_aliyun_out_id_is_short_and_stable() -> None:
    assert out_id("<a@x>") == out_id("<a@x>") != out_id("<b@x>")
    assert len(out_id("<a@x>")) == 32


def test_line_options_check_the_basic_id_and_keep_both_secrets() -> None:
    spec = provider("line")

    settings, secrets = spec.split(spec.check({**LINE, "basic_id": "@123ABCDE"}))

    assert settings == {"basic_id": "@123abcde"}
    assert set(secrets) == {"channel_access_token", "channel_secret"}
    assert set(refusal("line", {"channel_access_token": "", "basic_id": "123abcde"}).fields) == {
        "channel_access_token", "channel_secret", "basic_id"}

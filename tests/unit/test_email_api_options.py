"""Setting up SES, SendGrid and Postmark: the options each checks, which are secret, what is built."""

from __future__ import annotations

import pytest

from afterorder.channels.base import ChannelKind
from afterorder.channels.catalog import PROVIDERS, provider
from afterorder.channels.http import HttpChannel
from afterorder.channels.options import OptionsError

SES = {"region": "ap-northeast-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
       "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


def test_the_email_apis_are_in_the_catalog() -> None:
    assert {"ses", "sendgrid", "postmark"} <= set(PROVIDERS)
    assert all(PROVIDERS[name].channel is ChannelKind.EMAIL for name in ("ses", "sendgrid", "postmark"))
    assert PROVIDERS["ses"].default_rate == 1.0  # the sandbox's rate, the only one AWS publishes
    assert PROVIDERS["sendgrid"].default_rate is None and PROVIDERS["postmark"].default_rate is None


def test_missing_ses_credentials_are_named() -> None:
    with pytest.raises(OptionsError) as error:
        provider("ses").check({"region": "ap-northeast-1"})

    assert error.value.fields == {"access_key_id": "required", "secret_access_key": "required"}


def test_a_region_that_is_not_one_is_named() -> None:
    with pytest.raises(OptionsError) as error:
        provider("ses").check({**SES, "region": "Tokyo"})

    assert set(error.value.fields) == {"region"} and "not an AWS region" in str(error.value)


@pytest.mark.parametrize(("name", "given", "field"), [
    ("sendgrid", {"api_key": ""}, "api_key"),
    ("postmark", {}, "server_token"),
    ("postmark", {"server_token": "t", "from": "x"}, "from"),
])
def test_bad_options_are_named(name: str, given: dict[str, str], field: str) -> None:
    with pytest.raises(OptionsError) as error:
        provider(name).check(given)

    assert field in error.value.fields


@pytest.mark.parametrize(("name", "given", "secret"), [
    ("ses", {**SES, "session_token": "FwoGZXIvYXdz", "configuration_set": "events"},
     {"secret_access_key", "session_token"}),
    ("sendgrid", {"api_key": "SG.key"}, {"api_key"}),
    ("postmark", {"server_token": "token", "message_stream": "outbound"}, {"server_token"}),
])
def test_secrets_are_kept_apart_from_plain_settings(name: str, given: dict[str, str], secret: set[str]) -> None:
    spec = provider(name)

    plain, sealed = spec.split(spec.check(given))

    assert set(sealed) == secret
    assert not secret & set(plain)
    assert set(spec.masked(plain, list(sealed)).values()) >= {"********"}


@pytest.mark.parametrize(("name", "given", "api_base"), [
    ("ses", SES, "https://email.ap-northeast-1.amazonaws.com"),
    ("sendgrid", {"api_key": "SG.key"}, "https://api.sendgrid.com"),
    ("postmark", {"server_token": "token"}, "https://api.postmarkapp.com"),
    ("postmark", {"server_token": "token", "api_base": "http://127.0.0.1:9/"}, "http://127.0.0.1:9"),
])
async def test_each_provider_builds_its_channel_at_its_api_base(name: str, given: dict[str, str],
                                                                  api_base: str) -> None:
    spec = provider(name)

    channel = spec.build(spec.check(given), None)

    assert isinstance(channel, HttpChannel) and channel.api_base == api_base
    await channel.close()

"""Provider options from command-line words (``afterorder channels set``), read from the provider's
own options model: every shape of option a provider declares, and every mistake named by its flag
without repeating a value."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import Field

from afterorder.channels.arguments import as_flags, describe, read_options
from afterorder.channels.base import ChannelKind
from afterorder.channels.catalog import PROVIDERS
from afterorder.channels.options import OptionsError, Provider, ProviderOptions

SECRET = "s3cr3t-value-never-shown"


class SmsLikeOptions(ProviderOptions):
    """A provider declaring each kind of option: a secret, an alias (a Python keyword), a dict, a
    list, a yes/no and a number."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"auth_token"})
    auth_token: str
    sender: str | None = Field(None, alias="from")
    templates: dict[str, str] = Field(default_factory=dict)
    regions: list[str] = Field(default_factory=list)
    verbose: bool = False
    timeout: float = 10.0


def _unused_build(_options: Any, _client: Any) -> Any:
    raise AssertionError("parsing never builds a channel")


SMS_LIKE = Provider("smslike", ChannelKind.SMS, SmsLikeOptions, _unused_build)


def test_every_shape_of_option_is_read_by_its_flag() -> None:
    given = read_options(SMS_LIKE, [
        "--auth-token", SECRET, "--from", "+819012345678", "--template", "order-confirmation=SMS_1",
        "--templates=shipping-confirmation=SMS_2", "--region", "cn-hangzhou", "--regions", "ap-northeast-1",
        "--verbose", "--timeout=2.5", "--api-base", "http://127.0.0.1:9"])
    assert given == {"auth_token": SECRET, "from": "+819012345678",
                     "templates": {"order-confirmation": "SMS_1", "shipping-confirmation": "SMS_2"},
                     "regions": ["cn-hangzhou", "ap-northeast-1"], "verbose": "true", "timeout": "2.5",
                     "api_base": "http://127.0.0.1:9"}
    checked = SMS_LIKE.check(given).model_dump(by_alias=True)
    assert checked["from"] == "+819012345678" and checked["timeout"] == 2.5 and checked["verbose"] is True


def test_every_mistake_is_named_by_its_flag_at_once_and_no_value_is_repeated() -> None:
    with pytest.raises(OptionsError) as caught:
        read_options(SMS_LIKE, ["--auth-tokn", SECRET, "--template", SECRET, "--timeout", "soon", "--from", "a",
                                "--from", "b", "--regions"])
    fields = caught.value.fields
    assert fields["--auth-tokn"] == "not an option of smslike"
    assert fields["--templates"] == "give KEY=VALUE"
    assert fields["--from"] == "given twice"
    assert fields["--regions"] == "needs a value"
    assert fields["--auth-token"] == "required", "a missing option is reported beside the unknown one"
    assert "--timeout" in fields and "number" in fields["--timeout"]
    assert SECRET not in str(caught.value) and "soon" not in str(caught.value)


def test_a_value_without_an_option_is_refused_without_showing_it() -> None:
    with pytest.raises(OptionsError) as caught:
        read_options(SMS_LIKE, ["--auth-token", "t", SECRET])
    assert list(caught.value.fields) == ["word 3 after smslike"] and SECRET not in str(caught.value)


def test_setup_errors_are_shown_as_flags() -> None:
    exc = OptionsError("x", {"options.auth_token": "required", "options.templates.a": "bad", "rate": "too high",
                             "options": "give from or a messaging service"})
    assert as_flags(SMS_LIKE, exc).fields == {"--auth-token": "required", "--templates a": "bad",
                                              "--rate": "too high", "options": "give from or a messaging service"}


def test_describe_lists_required_and_secret_options_first() -> None:
    text = describe(SMS_LIKE)
    assert text.startswith("--auth-token (required, secret)")
    assert "--from" in text and "--templates KEY=VALUE ..." in text and "--regions VALUE ..." in text


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_catalogued_provider_has_options_the_command_line_can_name(name: str) -> None:
    """Whatever providers the catalog holds, their required options are read by their flags."""
    spec = PROVIDERS[name]
    with pytest.raises(OptionsError) as caught:
        read_options(spec, [])
    required = {f"--{(f.alias or n).replace('_', '-')}" for n, f in spec.options.model_fields.items()
                if f.is_required()}
    assert required <= set(caught.value.fields)


def test_what_is_stored_checks_out_again_aliases_included() -> None:
    """Stored options are read back by the same model (an alias such as ``from`` stays ``from``)."""
    settings, secrets = SMS_LIKE.split(SMS_LIKE.check(read_options(SMS_LIKE, [
        "--auth-token", SECRET, "--from", "+819012345678", "--template", "a=SMS_1"])))
    assert secrets == {"auth_token": SECRET} and settings["from"] == "+819012345678"
    assert SMS_LIKE.check({**settings, **secrets}) == SMS_LIKE.check({**settings, **secrets, "regions": []})

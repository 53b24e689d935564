"""What a provider needs to be set up: its options (checked, with the option named when one is
wrong), which of them are secrets, and how a channel is built from them.

Every provider module (``channels/<provider>.py``) exposes ``PROVIDER``, a :class:`Provider`.  Its
options are a pydantic model that refuses unknown names; every provider takes ``api_base`` (its
base URL, so staging and tests can point it at a local server) and ``rate`` is set beside them
(``afterorder channels set ... --rate N``), not by the provider.  Secret options are stored sealed
(``afterorder.keys.sealing``) and shown masked; the others are stored and shown as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator

from afterorder.channels.base import Channel, ChannelKind


def _not_empty(value: str) -> str:
    if not value:
        raise ValueError("required")
    return value


Required = Annotated[str, AfterValidator(_not_empty)]  # a text option that may not be empty ("required")


class OptionsError(ValueError):
    """Options given for a provider are missing, unknown or unusable; the message names each one."""

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})  # option name → what is wrong with it


class ProviderOptions(BaseModel):
    """A provider's options.  Subclasses declare their fields and which of them are secret."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    SECRETS: ClassVar[frozenset[str]] = frozenset()

    api_base: str | None = None

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("an http(s) URL, e.g. https://api.example.com")
        return value


@dataclass(frozen=True)
class Provider:
    name: str  # the module's name: smtp, ses, sendgrid, postmark, line, twilio, aliyun_sms
    channel: ChannelKind
    options: type[ProviderOptions]
    build: Callable[[Any, httpx.AsyncClient | None], Channel]  # (options, shared client or None) → channel
    default_api_base: str = ""
    default_rate: float | None = None  # messages per second when the store sets none (the provider's limit)
    # the options with afterorder's feedback URL for this store filled in where the store gave none
    # (Twilio's per-message StatusCallback); None: the provider is told its feedback URL in its console
    feedback: Callable[[Any, str], Any] | None = None

    def check(self, given: Mapping[str, Any]) -> ProviderOptions:
        """The options, checked; ``OptionsError`` names every option that is missing or wrong."""
        try:
            return self.options.model_validate(dict(given))
        except ValidationError as exc:
            fields = {".".join(str(p) for p in e["loc"]) or "options": _message(e)
                      for e in exc.errors(include_url=False)}
            listed = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
            raise OptionsError(f"{self.name}: {listed}", fields) from None

    def split(self, options: ProviderOptions) -> tuple[dict[str, Any], dict[str, str]]:
        """(plain settings, secrets) of checked options: what is stored as it is, what is sealed.

        Keys are the options' names as given (an alias such as Twilio's ``from``), so what is stored
        checks out again as it is."""
        values = options.model_dump(exclude_none=True, by_alias=True)
        secrets = {k: str(v) for k, v in values.items() if k in self.options.SECRETS}
        return {k: v for k, v in values.items() if k not in self.options.SECRETS}, secrets

    def masked(self, settings: Mapping[str, Any], secret_names: list[str]) -> dict[str, Any]:
        """What may be shown: the plain settings, and each secret's name with ``"********"``."""
        return {**settings, **{name: "********" for name in sorted(secret_names)}}


def _message(error: Any) -> str:
    if error.get("type") == "missing":
        return "required"
    if error.get("type") == "extra_forbidden":
        return "not an option of this provider"
    if error.get("type") == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])  # the validator's own words, without pydantic's "Value error, "
    return str(error.get("msg", "invalid"))

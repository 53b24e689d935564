"""Twilio Programmable Messaging: an SMS through ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

Form-encoded ``To``, ``From`` (or ``MessagingServiceSid``), ``Body`` (the payload's ``text``) and,
when the store set one, ``StatusCallback``; HTTP Basic auth ``AccountSid:AuthToken``.  Twilio answers
201 with the Message resource, whose ``sid`` is the provider id its status callbacks name.  Errors
carry ``{"code", "message", "more_info", "status"}``; what a code means is the table below (from
Twilio's error reference; codes not in it go by the HTTP status, ``http.py``):

* PERMANENT — the message cannot go to this number: ``21211`` invalid To, ``21614`` To not a mobile
  number, ``21610`` the recipient replied STOP, ``21612`` To not reachable by SMS, ``21408`` region
  not enabled, ``21606`` From not SMS-capable, ``21608`` To not verified (trial account), …;
* busy THROTTLED — ``20429`` or HTTP 429 (after ``Retry-After`` when given);
* TEMPORARY — HTTP 401 / ``20003``: the credentials were refused; the operator's to fix, the message
  is not at fault, so it waits instead of failing;
* TEMPORARY, unknown — 5xx and timeouts: Twilio may have taken it.

Exactly once: Twilio has no idempotency key.  A message whose answer was lost (unknown) and is sent
again may reach the customer twice; that window — the message in flight — is the only place a
duplicate can come from.
"""

from __future__ import annotations

import base64
import re
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import ConfigDict, Field, field_validator, model_validator

from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.http import DEFAULT_TIMEOUT, HttpChannel, HttpRequest, body_json
from afterorder.channels.options import Provider, ProviderOptions
from afterorder.channels.sms_payload import read_sms

DEFAULT_API_BASE = "https://api.twilio.com"
MAX_BODY_CHARS = 1_600  # Twilio refuses a longer body (21617)
# A US long code sends 1 message per second; Twilio queues faster sends for up to 4 hours and then
# drops them (30001), so without a rate of the store's own (short codes, toll-free, Messaging
# Services send faster: set --rate) afterorder keeps to it.
DEFAULT_RATE = 1.0

PERMANENT_CODES: dict[int, str] = {
    21211: "invalid 'To' number",
    21212: "invalid 'From' number",
    21401: "invalid phone number",
    21408: "sending to this region is not enabled",
    21602: "message body required",
    21604: "'To' number required",
    21606: "'From' number is not SMS-capable",
    21608: "'To' number not verified (trial account)",
    21610: "recipient unsubscribed (replied STOP)",
    21612: "'To' number not reachable by SMS",
    21614: "'To' number is not a mobile number",
    21617: "body over 1,600 characters",
}
BUSY_CODES = frozenset({20429})
CREDENTIAL_CODES = frozenset({20003})


class TwilioChannel(HttpChannel):
    provider = "twilio"

    def __init__(self, account_sid: str, auth_token: str, *, sender: str | None = None,
                 messaging_service_sid: str | None = None, status_callback: str | None = None,
                 api_base: str = DEFAULT_API_BASE, client: httpx.AsyncClient | None = None,
                 timeout: float = DEFAULT_TIMEOUT, concurrency: int = 32) -> None:
        super().__init__(api_base, client=client, timeout=timeout, concurrency=concurrency)
        if (sender is None) == (messaging_service_sid is None):
            raise ValueError("give exactly one of from and messaging_service_sid")
        self._path = f"/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {credentials}",
                         "Content-Type": "application/x-www-form-urlencoded"}
        self._fields = {"From": sender} if sender is not None else {"MessagingServiceSid": messaging_service_sid}
        if status_callback:
            self._fields["StatusCallback"] = status_callback

    def request(self, message: OutgoingMessage) -> HttpRequest:
        sms = read_sms(message)
        if not sms.text.strip():
            raise ValueError("the SMS text is empty")
        if len(sms.text) > MAX_BODY_CHARS:
            raise ValueError(f"the SMS text is over Twilio's {MAX_BODY_CHARS:,} characters ({len(sms.text):,})")
        form = {"To": sms.to, **self._fields, "Body": sms.text}
        return HttpRequest("POST", self._path, self._headers, urlencode(form).encode("ascii"))

    def read(self, response: httpx.Response, verdict: SendResult) -> SendResult:
        body = body_json(response)
        if verdict.outcome is SendOutcome.SENT:
            sid = body.get("sid") if isinstance(body, dict) else None
            return SendResult(SendOutcome.SENT, response.status_code, f"{response.status_code} {_status(body)}",
                              provider_id=sid if isinstance(sid, str) else None)
        return _refused(response.status_code, body, verdict)


def _refused(status: int, body: Any, verdict: SendResult) -> SendResult:
    code, text = _error(body)
    detail = f"twilio {code}: {text}" if code is not None else verdict.detail
    if code in PERMANENT_CODES:
        return SendResult(SendOutcome.PERMANENT, status, f"{detail} ({PERMANENT_CODES[code]})")
    if code in BUSY_CODES or status == 429:
        return SendResult(SendOutcome.TEMPORARY, status, detail, retry_after=verdict.retry_after, busy=Busy.THROTTLED)
    if code in CREDENTIAL_CODES or status == 401:
        return SendResult(SendOutcome.TEMPORARY, status, f"{detail} (the store's Twilio credentials were refused)")
    return SendResult(verdict.outcome, status, detail, verdict.retry_after, verdict.busy, verdict.unknown)


def _error(body: Any) -> tuple[int | None, str]:
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        return None, ""
    return body["code"], str(body.get("message", ""))


def _status(body: Any) -> str:
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else "accepted"


_SID = {"account_sid": re.compile(r"AC[0-9a-fA-F]{32}"), "messaging_service_sid": re.compile(r"MG[0-9a-fA-F]{32}")}


class TwilioOptions(ProviderOptions):
    """``account_sid`` and ``auth_token`` (Twilio console), and exactly one sender: ``from`` (a
    Twilio number in E.164, a short code or an alphanumeric sender id) or ``messaging_service_sid``;
    ``status_callback``: the URL Twilio reports delivery to (afterorder's ``/webhooks/twilio/{store}``)."""

    model_config = ConfigDict(serialize_by_alias=True)
    SECRETS: ClassVar[frozenset[str]] = frozenset({"auth_token"})
    account_sid: str
    auth_token: str
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = None
    status_callback: str | None = None

    @field_validator("account_sid", "messaging_service_sid")
    @classmethod
    def _sid(cls, value: str | None, info: Any) -> str | None:
        if value is not None and not _SID[info.field_name].fullmatch(value):
            prefix = _SID[info.field_name].pattern[:2]
            raise ValueError(f"a Twilio SID: {prefix} and 32 hex characters")
        return value

    @field_validator("auth_token", "from_")
    @classmethod
    def _given(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("status_callback")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("an http(s) URL")
        return value

    @model_validator(mode="after")
    def _one_sender(self) -> TwilioOptions:
        if (self.from_ is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of from (a Twilio number) and messaging_service_sid")
        return self


def _build(options: TwilioOptions, client: httpx.AsyncClient | None) -> TwilioChannel:
    return TwilioChannel(options.account_sid, options.auth_token, sender=options.from_,
                         messaging_service_sid=options.messaging_service_sid,
                         status_callback=options.status_callback, api_base=options.api_base or DEFAULT_API_BASE,
                         client=client)


def _with_callback(options: TwilioOptions, url: str) -> TwilioOptions:
    """Status callbacks to afterorder's ``/webhooks/twilio/{store}`` unless the store named another URL."""
    return options if options.status_callback else options.model_copy(update={"status_callback": url})


PROVIDER = Provider("twilio", ChannelKind.SMS, TwilioOptions, _build, DEFAULT_API_BASE, DEFAULT_RATE,
                    feedback=_with_callback)

"""Alibaba Cloud SMS (dysmsapi 2017-05-25): ``SendSms``, for stores in mainland China.

An RPC-style POST form signed as Alibaba's reference documents (``aliyun_signing``: HMAC-SHA1 over
the canonicalized parameters, key = secret + "&").  Mainland China SMS go out only as an approved
template under an approved signature: ``SignName`` is the store's (the provider puts 【SignName】 in
front; the body itself carries no 【】), ``TemplateCode`` the store's approved code for the
message's template (option ``templates``: message name → code; a message without one is PERMANENT,
naming both), ``TemplateParam`` the payload's ``params`` as JSON with string values, ``OutId`` a
reference derived from the message id (echoed as ``out_id`` in delivery reports).

Alibaba answers 200 with ``Code`` ``"OK"`` and ``BizId`` (the provider id of delivery reports), or an
error ``Code`` — often still in a 200, so the code decides, not the status:

* ``isv.BUSINESS_LIMIT_CONTROL`` (a per-number cap, "触发分钟级/小时级/天级流控") → busy THROTTLED,
  after a minute, an hour, or until the next day in China time, as the message says;
* ``isv.DAY_LIMIT_CONTROL`` / ``isv.MONTH_LIMIT_CONTROL`` (the account's console cap) → busy QUOTA;
* wrong number, template, signature or parameters (``PERMANENT_CODES``) → PERMANENT;
* balance and account problems, refused credentials → TEMPORARY (the operator's to fix);
* ``isp.SYSTEM_ERROR`` (and any ``isp.*``), 5xx, timeouts → TEMPORARY, unknown.

Exactly once: **SendSms is not idempotent** (its reference says so: deduplicate yourself).  afterorder
sends each message once and records the answer; a message whose answer was lost (unknown) and is
sent again may reach the customer twice — that window, the message in flight at a timeout or a
crash, is the only place a duplicate can come from.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
from pydantic import Field, field_validator

from afterorder.channels.aliyun_signing import percent, signed
from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.http import DEFAULT_TIMEOUT, MAX_RETRY_AFTER, HttpChannel, HttpRequest, body_json
from afterorder.channels.options import Provider, ProviderOptions, Required
from afterorder.channels.sms_payload import read_sms

DEFAULT_API_BASE = "https://dysmsapi.aliyuncs.com"
DEFAULT_REGION = "cn-hangzhou"
API_VERSION = "2017-05-25"
# SendSms's per-user limit: 5,000 requests per second (per-number caps are answered as busy)
DEFAULT_RATE = 5_000.0
CHINA_TIME = ZoneInfo("Asia/Shanghai")

PERMANENT_CODES: dict[str, str] = {
    "isv.MOBILE_NUMBER_ILLEGAL": "the phone number is not valid",
    "isv.MOBILE_COUNT_OVER_LIMIT": "too many phone numbers",
    "isv.SMS_TEMPLATE_ILLEGAL": "the template code is not an approved template of this account",
    "isv.SMS_SIGNATURE_ILLEGAL": "the sign name is not an approved signature of this account",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": "the signature may not be used for this template",
    "isv.TEMPLATE_MISSING_PARAMETERS": "the template needs a parameter that was not given",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "a template parameter is not allowed",
    "isv.INVALID_PARAMETERS": "a parameter is not valid",
    "isv.INVALID_JSON_PARAM": "TemplateParam is not JSON with string values",
    "isv.PARAM_LENGTH_LIMIT": "a template parameter is too long",
    "isv.PARAM_NOT_SUPPORT_URL": "a template parameter may not be a URL",
    "isv.BLACK_KEY_CONTROL_LIMIT": "a template parameter holds a forbidden word",
    "isv.SMS_CONTENT_ILLEGAL": "the content is not allowed",
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": "this template cannot go to mainland numbers",
    "isv.EXTEND_CODE_ERROR": "the extension code is not valid",
}
QUOTA_CODES = frozenset({"isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL"})
THROTTLED_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api"})
# the account or its credentials: the operator's to fix; the message waits
OPERATOR_CODES = frozenset({
    "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE", "isv.PRODUCT_UN_SUBSCRIPT", "isv.PRODUCT_UNSUBSCRIBE",
    "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL", "isp.RAM_PERMISSION_DENY", "SignatureDoesNotMatch",
    "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "InvalidTimeStamp.Expired", "SignatureNonceUsed",
})

_MAINLAND = re.compile(r"\+86(1[0-9]{10})")


def phone_numbers(e164: str) -> str:
    """``PhoneNumbers`` for an E.164 number: a mainland number without its prefix (the reference
    takes it so), any other as country code and number without ``+``."""
    mainland = _MAINLAND.fullmatch(e164)
    return mainland.group(1) if mainland else e164.lstrip("+")


def out_id(message_id: str) -> str:
    """``OutId`` of a message: 32 hex characters derived from its id."""
    return hashlib.sha256(b"aliyun-out-id\0" + message_id.encode("utf-8")).hexdigest()[:32]


def template_codes(settings: Mapping[str, Any]) -> dict[str, str]:
    """The approved template code of each message, from a store's ``aliyun_sms`` settings (as stored
    or as given): what a flow check asks "has this store a code for message X?"."""
    templates = settings.get("templates")
    if not isinstance(templates, Mapping):
        return {}
    return {str(name): code for name, code in templates.items() if isinstance(code, str) and code}


class AliyunSmsChannel(HttpChannel):
    provider = "aliyun_sms"

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, templates: Mapping[str, str],
                 *, region_id: str = DEFAULT_REGION, api_base: str = DEFAULT_API_BASE,
                 client: httpx.AsyncClient | None = None, timeout: float = DEFAULT_TIMEOUT, concurrency: int = 32,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 nonce: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        super().__init__(api_base, client=client, timeout=timeout, concurrency=concurrency)
        self._key_id, self._secret = access_key_id, access_key_secret
        self._sign_name, self._templates, self._region = sign_name, dict(templates), region_id
        self._clock, self._nonce = clock, nonce

    def request(self, message: OutgoingMessage) -> HttpRequest:
        sms = read_sms(message)
        code = self._templates.get(message.template)
        if not code:
            raise ValueError(f"no approved template code for message {message.template!r}: "
                             f"add it to the option templates (message name → SMS_… code)")
        params = {**self._common(), "PhoneNumbers": phone_numbers(sms.to), "SignName": self._sign_name,
                  "TemplateCode": code, "OutId": out_id(message.message_id)}
        if sms.params:
            params["TemplateParam"] = json.dumps(sms.params, ensure_ascii=False, separators=(",", ":"))
        form = "&".join(f"{percent(k)}={percent(v)}" for k, v in signed("POST", params, self._secret).items())
        return HttpRequest("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, form.encode("ascii"))

    def _common(self) -> dict[str, str]:
        return {"AccessKeyId": self._key_id, "Action": "SendSms", "Format": "JSON", "RegionId": self._region,
                "SignatureMethod": "HMAC-SHA1", "SignatureNonce": self._nonce(), "SignatureVersion": "1.0",
                "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": API_VERSION}

    def read(self, response: httpx.Response, verdict: SendResult) -> SendResult:
        body = body_json(response)
        code, status = _field(body, "Code"), response.status_code
        if code == "OK" and verdict.outcome is SendOutcome.SENT:
            return SendResult(SendOutcome.SENT, status, f"OK {_field(body, 'RequestId')}".strip(),
                              provider_id=_field(body, "BizId") or None)
        if not code and verdict.outcome is SendOutcome.SENT:  # a 2xx without Code is no answer of SendSms's
            return SendResult(SendOutcome.TEMPORARY, status, f"answer without Code: {verdict.detail}", unknown=True)
        if not code:
            return verdict
        return self._by_code(code, _field(body, "Message"), status, verdict)

    def _by_code(self, code: str, text: str, status: int, verdict: SendResult) -> SendResult:
        detail = f"aliyun {code}: {text}"
        if code in PERMANENT_CODES:
            return SendResult(SendOutcome.PERMANENT, status, f"{detail} ({PERMANENT_CODES[code]})")
        if code in THROTTLED_CODES:
            delay = self._limit_delay(text) if code == "isv.BUSINESS_LIMIT_CONTROL" else verdict.retry_after
            return SendResult(SendOutcome.TEMPORARY, status, detail, retry_after=delay, busy=Busy.THROTTLED)
        if code in QUOTA_CODES:
            return SendResult(SendOutcome.TEMPORARY, status, detail, retry_after=self._quota_delay(code),
                              busy=Busy.QUOTA)
        if code in OPERATOR_CODES:
            return SendResult(SendOutcome.TEMPORARY, status, f"{detail} (the store's Alibaba Cloud account)")
        if code.startswith("isp.") or status >= 500:
            return SendResult(SendOutcome.TEMPORARY, status, detail, unknown=True)
        return SendResult(SendOutcome.PERMANENT, status, detail)

    def _limit_delay(self, text: str) -> float:
        """How long a per-number cap lasts, from its wording (触发分钟级流控 / 小时级 / 天级)."""
        lowered = text.lower()
        if "小时" in text or "hour" in lowered:
            return 3600.0
        if "天" in text or "day" in lowered:
            return self._until_next_day()
        return 60.0

    def _quota_delay(self, code: str) -> float:
        return self._until_next_day() if code == "isv.DAY_LIMIT_CONTROL" else MAX_RETRY_AFTER

    def _until_next_day(self) -> float:
        now = self._clock().astimezone(CHINA_TIME)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return min((midnight - now).total_seconds(), MAX_RETRY_AFTER)


def _field(body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


_TEMPLATE_CODE = re.compile(r"SMS_[0-9]+")


class AliyunSmsOptions(ProviderOptions):
    """``access_key_id`` / ``access_key_secret`` (a RAM user's AccessKey with SMS permission),
    ``sign_name`` (the approved signature, without 【】), ``templates`` (message name → approved
    template code, e.g. ``{"shipping": "SMS_15305001"}``), ``region_id``."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"access_key_secret"})
    access_key_id: Required
    access_key_secret: Required
    sign_name: str
    templates: dict[str, str] = Field(default_factory=dict)
    region_id: Required = DEFAULT_REGION

    @field_validator("sign_name")
    @classmethod
    def _sign_name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c in value for c in "【】[]"):
            raise ValueError("the approved signature's name, without 【】 (Alibaba adds them)")
        return value

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = sorted(name for name, code in value.items() if not name.strip() or not _TEMPLATE_CODE.fullmatch(code))
        if wrong:
            raise ValueError(f"each message needs an approved template code like SMS_15305001 ({', '.join(wrong)})")
        return value


def _build(options: AliyunSmsOptions, client: httpx.AsyncClient | None) -> AliyunSmsChannel:
    return AliyunSmsChannel(options.access_key_id, options.access_key_secret, options.sign_name, options.templates,
                            region_id=options.region_id, api_base=options.api_base or DEFAULT_API_BASE, client=client)


PROVIDER = Provider("aliyun_sms", ChannelKind.SMS, AliyunSmsOptions, _build, DEFAULT_API_BASE, DEFAULT_RATE)

"""A local Alibaba Cloud SMS endpoint: ``SendSms`` (dysmsapi 2017-05-25, RPC style, GET query or POST form).

It recomputes the request's signature with the known secret (``aliyun_signing``, the reference's
algorithm) and refuses a wrong one with ``SignatureDoesNotMatch`` (HTTP 400, naming the string it
signed, as Alibaba does); an unknown ``AccessKeyId`` gets ``InvalidAccessKeyId.NotFound`` (404), a
``Timestamp`` more than 15 minutes off ``InvalidTimeStamp.Expired``, a nonce seen before
``SignatureNonceUsed``.  A signed request is then checked as SendSms does and answered with HTTP 200
and ``Code``: ``OK`` with a ``BizId``, or ``isv.MOBILE_NUMBER_ILLEGAL``, ``isv.SMS_SIGNATURE_ILLEGAL``,
``isv.SMS_TEMPLATE_ILLEGAL``, ``isv.INVALID_JSON_PARAM`` (a non-string parameter value), or
``isv.BUSINESS_LIMIT_CONTROL`` ("触发分钟级流控Permits:N") past ``per_minute`` messages to one number.

Alibaba publishes field lists, not literal bodies: every body here (``{"Code", "Message", "BizId",
"RequestId"}``; errors ``{"RequestId", "HostId", "Code", "Message", "Recommend"}``) is built from the
reference.  ``accepted`` keeps every message (``payload``: an :class:`AliyunSms`).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.channels.aliyun_signing import signature, string_to_sign
from afterorder.dev.sinks.base import Accepted, SeenRequest, Sink

DEV_ACCESS_KEY_ID = "LTAIdevAccessKey00000000"
DEV_ACCESS_KEY_SECRET = "dev-aliyun-access-key-secret"
HOST_ID = "dysmsapi.aliyuncs.com"
MAX_CLOCK_SKEW = 15 * 60.0
_MAINLAND = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_INTERNATIONAL = re.compile(r"[1-9][0-9]{7,14}")
_TEMPLATE_CODE = re.compile(r"SMS_[0-9]+")
_REQUIRED = ("PhoneNumbers", "SignName", "TemplateCode")


@dataclass(frozen=True)
class AliyunSms:
    """A message SendSms took: Alibaba renders 【sign_name】 + the template with ``params``."""

    sign_name: str
    template_code: str
    params: dict[str, str]
    out_id: str


def answer(code: str, message: str, status: int = 200) -> Response:
    """An answer in SendSms's shape: a business ``Code`` in a 200, or an API error (status ≥ 400)."""
    request_id = str(uuid.uuid4()).upper()
    if status >= 400:
        return JSONResponse({"RequestId": request_id, "HostId": HOST_ID, "Code": code, "Message": message,
                             "Recommend": f"https://next.api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi"},
                            status)
    return JSONResponse({"Code": code, "Message": message, "RequestId": request_id}, status)


@dataclass
class AliyunSmsSink(Sink):
    access_key_id: str = DEV_ACCESS_KEY_ID
    access_key_secret: str = DEV_ACCESS_KEY_SECRET
    sign_names: set[str] | None = None  # the approved signatures (None: any)
    template_codes: set[str] | None = None  # the approved templates (None: any SMS_… code)
    per_minute: int | None = None  # messages one number may get a minute
    nonces: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._call, methods=["GET", "POST"])])

    async def _call(self, request: Request) -> Response:
        seen, scripted = await self.seen(request)
        if scripted is not None:
            return scripted
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        params.update(parse_qsl(seen.body.decode("utf-8", "replace"), keep_blank_values=True))
        refused = self._unsigned(request.method, params) or _wrong_call(params) or self._refused(params)
        if refused is not None:
            return refused
        return self._send(params, seen)

    def _unsigned(self, method: str, params: dict[str, str]) -> Response | None:
        if params.get("AccessKeyId") != self.access_key_id:
            return answer("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        if params.get("Signature") != signature(method, params, self.access_key_secret):
            return answer("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                          f"server string to sign is:{string_to_sign(method, params)}", 400)
        if not _timely(params.get("Timestamp", "")):
            return answer("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
        nonce = params.get("SignatureNonce", "")
        if not nonce or nonce in self.nonces:
            return answer("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
        self.nonces.add(nonce)
        return None

    def _refused(self, params: dict[str, str]) -> Response | None:
        if _phone(params["PhoneNumbers"]) is None:
            return answer("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if self.sign_names is not None and params["SignName"] not in self.sign_names:
            return answer("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        if not _TEMPLATE_CODE.fullmatch(params["TemplateCode"]) or (
                self.template_codes is not None and params["TemplateCode"] not in self.template_codes):
            return answer("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        if _template_params(params.get("TemplateParam")) is None:
            return answer("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        return self._over_cap(params["PhoneNumbers"])

    def _over_cap(self, phone_numbers: str) -> Response | None:
        if self.per_minute is None:
            return None
        phone, now = _phone(phone_numbers), time.monotonic()
        recent = sum(1 for a in self.accepted if a.to == phone and now - a.at < 60)
        if recent < self.per_minute:
            return None
        return answer("isv.BUSINESS_LIMIT_CONTROL", f"触发分钟级流控Permits:{self.per_minute}")

    def _send(self, params: dict[str, str], seen: SeenRequest) -> Response:
        biz_id = f"{secrets.randbelow(10**18):018d}^0"
        sms = AliyunSms(params["SignName"], params["TemplateCode"], _template_params(params.get("TemplateParam")) or {},
                        params.get("OutId", ""))
        self.accept(Accepted(seen.at, _phone(params["PhoneNumbers"]) or "", biz_id, sms))
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": biz_id,
                             "RequestId": str(uuid.uuid4()).upper()})


def _wrong_call(params: dict[str, str]) -> Response | None:
    if params.get("Action") != "SendSms":
        return answer("InvalidAction.NotFound", "Specified api is not found, please check your url and method.", 404)
    if params.get("Version") != "2017-05-25":
        return answer("InvalidVersion", "Specified parameter Version is not valid.", 400)
    if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
        return answer("InvalidParameter", "Specified signature method or version is not supported.", 400)
    for name in _REQUIRED:
        if not params.get(name):
            return answer(f"Missing{name}", f"{name} is mandatory for this action.", 400)
    return None


def _timely(timestamp: str) -> bool:
    try:
        at = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return abs((datetime.now(UTC) - at).total_seconds()) <= MAX_CLOCK_SKEW


def _phone(phone_numbers: str) -> str | None:
    """The number as E.164, if SendSms takes it (one number: mainland with or without its prefix,
    or an international number as country code and number)."""
    mainland = _MAINLAND.fullmatch(phone_numbers)
    if mainland:
        return f"+86{mainland.group(1)}"
    return f"+{phone_numbers}" if _INTERNATIONAL.fullmatch(phone_numbers) and not phone_numbers.startswith("86") \
        else None


def _template_params(value: str | None) -> dict[str, str] | None:
    if value is None:
        return {}
    try:
        params = json.loads(value)
    except json.JSONDecodeError:
        return None
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        return None
    return params

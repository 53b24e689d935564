"""The Alibaba Cloud SMS channel against the local SendSms server on loopback: a signed request the
server recomputes, the store's approved template, and every answer code to the right outcome."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.responses import Response

from afterorder.channels import aliyun_signing
from afterorder.channels.aliyun_sms import CHINA_TIME, AliyunSmsChannel, out_id
from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.catalog import provider
from afterorder.dev.sinks.aliyun_sms import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET, AliyunSms, AliyunSmsSink, answer
from tests.loopback import loopback

SIGN_NAME = "京都茶舗"
TEMPLATES = {"shipping": "SMS_15305001", "delivered": "SMS_15305002"}
WANG = "+8613800138000"


def sms(to: str = WANG, template: str = "shipping", params: dict[str, object] | None = None) -> OutgoingMessage:
    params = {"name": "王芳", "order": 1001, "link": "https://afterorder.example/c/Ab3"} if params is None else params
    payload = {"text": "您的订单 #1001 已发货", "params": params}
    return OutgoingMessage(f"<{uuid.uuid4().hex}@kyoto-tea.example>", "", (to,),
                           json.dumps(payload, ensure_ascii=False).encode(), ChannelKind.SMS, template=template)


@dataclass
class Aliyun:
    sink: AliyunSmsSink
    url: str
    channel: AliyunSmsChannel

    def with_channel(self, secret: str = DEV_ACCESS_KEY_SECRET, **kwargs: Any) -> AliyunSmsChannel:
        return AliyunSmsChannel(DEV_ACCESS_KEY_ID, secret, SIGN_NAME, TEMPLATES, api_base=self.url, timeout=5, **kwargs)


@pytest.fixture
async def aliyun() -> AsyncIterator[Aliyun]:
    sink = AliyunSmsSink(sign_names={SIGN_NAME}, template_codes=set(TEMPLATES.values()))
    async with loopback(sink.app()) as url:
        channel = AliyunSmsChannel(DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET, SIGN_NAME, TEMPLATES, api_base=url,
                                   timeout=5)
        yield Aliyun(sink, url, channel)
        await channel.close()


def form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode(), strict_parsing=True).items()}


async def test_sendsms_goes_out_signed_with_the_stores_template_and_string_params(aliyun: Aliyun) -> None:
    message = sms()

    result = await aliyun.channel.send(message)

    assert result.outcome is SendOutcome.SENT and result.code == 200
    [request] = aliyun.sink.requests
    assert request.path == "/" and request.headers["content-type"] == "application/x-www-form-urlencoded"
    sent = form(request.body)
    assert {k: sent[k] for k in ("Action", "Version", "Format", "RegionId", "SignatureMethod", "SignatureVersion",
                                 "AccessKeyId", "PhoneNumbers", "SignName", "TemplateCode", "OutId")} == {
        "Action": "SendSms", "Version": "2017-05-25", "Format": "JSON", "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "AccessKeyId": DEV_ACCESS_KEY_ID,
        "PhoneNumbers": "13800138000", "SignName": SIGN_NAME, "TemplateCode": "SMS_15305001",
        "OutId": out_id(message.message_id)}
    assert json.loads(sent["TemplateParam"]) == {"name": "王芳", "order": "1001", "link": "https://afterorder.example/c/Ab3"}
    assert sent["Signature"] == aliyun_signing.signature("POST", sent, DEV_ACCESS_KEY_SECRET)
    assert abs(datetime.strptime(sent["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
               - datetime.now(UTC)) < timedelta(minutes=1)
    [held] = aliyun.sink.accepted
    assert held.to == WANG and result.provider_id == held.provider_id
    assert held.payload == AliyunSms(SIGN_NAME, "SMS_15305001", json.loads(sent["TemplateParam"]),
                                     out_id(message.message_id))


async def test_each_request_has_its_own_nonce(aliyun: Aliyun) -> None:
    await aliyun.channel.send(sms())
    await aliyun.channel.send(sms())

    assert len({form(r.body)["SignatureNonce"] for r in aliyun.sink.requests}) == 2
    assert len(aliyun.sink.accepted) == 2


async def test_an_international_number_goes_with_its_country_code(aliyun: Aliyun) -> None:
    result = await aliyun.channel.send(sms("+819012345678"))

    assert result.outcome is SendOutcome.SENT
    assert form(aliyun.sink.requests[0].body)["PhoneNumbers"] == "819012345678"
    assert aliyun.sink.accepted[0].to == "+819012345678"


async def test_a_wrong_secret_is_refused_by_the_signature_check_and_waits_for_the_operator(aliyun: Aliyun) -> None:
    channel = aliyun.with_channel(secret="not-the-secret")

    result = await channel.send(sms())
    await channel.close()

    assert result.outcome is SendOutcome.TEMPORARY and result.code == 400
    assert "SignatureDoesNotMatch" in result.detail and not result.unknown
    assert not aliyun.sink.accepted


async def test_a_tampered_request_fails_the_signature_check(aliyun: Aliyun) -> None:
    request = aliyun.channel.request(sms())
    tampered = request.content.replace(b"13800138000", b"13800138001")

    async with httpx.AsyncClient() as client:
        refused = await client.post(aliyun.url, content=tampered, headers=dict(request.headers))
        genuine = await client.post(aliyun.url, content=request.content, headers=dict(request.headers))

    assert refused.status_code == 400 and refused.json()["Code"] == "SignatureDoesNotMatch"
    assert set(refused.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert genuine.status_code == 200 and genuine.json()["Code"] == "OK"
    assert [a.to for a in aliyun.sink.accepted] == [WANG]


async def test_a_request_signed_an_hour_ago_is_refused(aliyun: Aliyun) -> None:
    channel = aliyun.with_channel(clock=lambda: datetime.now(UTC) - timedelta(hours=1))

    result = await channel.send(sms())
    await channel.close()

    assert result.outcome is SendOutcome.TEMPORARY and "InvalidTimeStamp.Expired" in result.detail


async def test_a_replayed_nonce_is_refused(aliyun: Aliyun) -> None:
    channel = aliyun.with_channel(nonce=lambda: "0b0a9b7e-0000-4000-8000-000000000001")

    first = await channel.send(sms())
    again = await channel.send(sms())
    await channel.close()

    assert first.outcome is SendOutcome.SENT
    assert again.outcome is SendOutcome.TEMPORARY and "SignatureNonceUsed" in again.detail


async def test_a_message_without_an_approved_template_is_permanent_and_names_the_option(aliyun: Aliyun) -> None:
    result = await aliyun.channel.send(sms(template="review_request"))

    assert result.outcome is SendOutcome.PERMANENT
    assert "'review_request'" in result.detail and "templates" in result.detail
    assert not aliyun.sink.requests


async def test_a_signature_alibaba_did_not_approve_is_permanent(aliyun: Aliyun) -> None:
    aliyun.sink.sign_names = {"其他店"}

    result = await aliyun.channel.send(sms())

    assert result.outcome is SendOutcome.PERMANENT and "isv.SMS_SIGNATURE_ILLEGAL" in result.detail


async def test_a_template_alibaba_did_not_approve_is_permanent(aliyun: Aliyun) -> None:
    aliyun.sink.template_codes = {"SMS_99999999"}

    result = await aliyun.channel.send(sms())

    assert result.outcome is SendOutcome.PERMANENT and "isv.SMS_TEMPLATE_ILLEGAL" in result.detail


async def test_an_illegal_number_is_permanent(aliyun: Aliyun) -> None:
    result = await aliyun.channel.send(sms("+8612345"))

    assert result.outcome is SendOutcome.PERMANENT and "isv.MOBILE_NUMBER_ILLEGAL" in result.detail


async def test_the_per_number_minute_cap_is_a_delay_of_a_minute(aliyun: Aliyun) -> None:
    aliyun.sink.per_minute = 1

    first = await aliyun.channel.send(sms())
    capped = await aliyun.channel.send(sms(template="delivered"))

    assert first.outcome is SendOutcome.SENT
    assert capped.outcome is SendOutcome.TEMPORARY and capped.busy is Busy.THROTTLED
    assert capped.retry_after == 60.0 and "isv.BUSINESS_LIMIT_CONTROL" in capped.detail
    assert len(aliyun.sink.accepted) == 1


@pytest.mark.parametrize(("wording", "delay"), [("触发小时级流控Permits:5", 3600.0),
                                                ("Triggering hour-level flow control", 3600.0),
                                                ("触发分钟级流控Permits:1", 60.0)])
async def test_the_caps_delay_follows_its_wording(aliyun: Aliyun, wording: str, delay: float) -> None:
    aliyun.sink.trouble = lambda _: answer("isv.BUSINESS_LIMIT_CONTROL", wording)

    result = await aliyun.channel.send(sms())

    assert result.busy is Busy.THROTTLED and result.retry_after == delay


async def test_a_day_cap_waits_until_the_next_day_in_china(aliyun: Aliyun) -> None:
    late = datetime.now(CHINA_TIME).replace(hour=23, minute=0, second=0, microsecond=0)
    channel = aliyun.with_channel(clock=lambda: late)
    aliyun.sink.trouble = lambda _: answer("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")

    result = await channel.send(sms())
    await channel.close()

    assert result.busy is Busy.THROTTLED and result.retry_after == 3600.0


@pytest.mark.parametrize("code", ["isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL"])
async def test_the_accounts_own_caps_are_a_quota(aliyun: Aliyun, code: str) -> None:
    aliyun.sink.trouble = lambda _: answer(code, "触发日发送限额")

    result = await aliyun.channel.send(sms())

    assert result.outcome is SendOutcome.TEMPORARY and result.busy is Busy.QUOTA
    assert result.retry_after is not None and 0 < result.retry_after <= 86_400


@pytest.mark.parametrize("code", ["isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL",
                                  "isv.TEMPLATE_MISSING_PARAMETERS", "isv.INVALID_JSON_PARAM", "isv.SOMETHING_NEW"])
async def test_refusals_of_this_message_are_permanent(aliyun: Aliyun, code: str) -> None:
    aliyun.sink.trouble = lambda _: answer(code, "refused")

    result = await aliyun.channel.send(sms())

    assert result.outcome is SendOutcome.PERMANENT and result.detail.startswith(f"aliyun {code}: refused")


async def test_a_system_error_is_unknown(aliyun: Aliyun) -> None:
    aliyun.sink.trouble = lambda _: answer("isp.SYSTEM_ERROR", "System error")

    result = await aliyun.channel.send(sms())

    assert result.outcome is SendOutcome.TEMPORARY and result.unknown and result.busy is None


@pytest.mark.parametrize("code", ["isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE"])
async def test_an_empty_balance_waits_without_failing_the_message(aliyun: Aliyun, code: str) -> None:
    aliyun.sink.trouble = lambda _: answer(code, "账户余额不足")

    result = await aliyun.channel.send(sms())

    assert result.outcome is SendOutcome.TEMPORARY and not result.unknown and result.busy is None
    assert code in result.detail


@pytest.mark.parametrize("answered", [Response("<html>OK</html>", 200), Response("Bad Gateway", 502)])
async def test_an_answer_without_a_code_is_unknown(aliyun: Aliyun, answered: Response) -> None:
    aliyun.sink.trouble = lambda _: answered

    result = await aliyun.channel.send(sms())

    assert result.outcome is SendOutcome.TEMPORARY and result.unknown


async def test_an_api_throttle_is_busy(aliyun: Aliyun) -> None:
    aliyun.sink.trouble = lambda _: answer("Throttling.User", "Request was denied due to user flow control.", 400)

    result = await aliyun.channel.send(sms())

    assert result.busy is Busy.THROTTLED


async def test_the_provider_builds_a_channel_from_the_stores_options(aliyun: Aliyun) -> None:
    spec = provider("aliyun_sms")
    options = spec.check({"access_key_id": DEV_ACCESS_KEY_ID, "access_key_secret": DEV_ACCESS_KEY_SECRET,
                          "sign_name": SIGN_NAME, "templates": TEMPLATES, "api_base": aliyun.url})

    async with httpx.AsyncClient() as client:
        result = await spec.build(options, client).send(sms(template="delivered"))

    assert result.outcome is SendOutcome.SENT
    assert aliyun.sink.accepted[0].payload.template_code == "SMS_15305002"

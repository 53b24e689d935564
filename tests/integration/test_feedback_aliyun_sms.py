"""Alibaba Cloud SMS delivery receipts (SmsReport) over HTTP, on SQLite and PostgreSQL: the URL
``afterorder store webhooks`` prints (with the store's secret token) takes the documented sample
and answers what Alibaba Cloud expects; each report updates the message with that ``biz_id``; a
wrong token gets 401 and a bad body 400, with nothing changed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.clock import FrozenClock
from afterorder.db.stores import StoreRow
from afterorder.feedback.aliyun_sms import report_token
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import JP_STORE, US_STORE, add_store, running
from tests.feedback_helpers import message_row, sent_message

PUBLIC = "https://ao.kumo.example"
CHINA = timezone(timedelta(hours=8))


def sample(**changes: Any) -> dict[str, Any]:
    """The SmsReport sample of Alibaba Cloud's reference (help.aliyun.com/document_detail/101867)."""
    return {"phone_number": "1381111****", "send_time": "2017-01-01 00:00:00", "report_time": "2017-01-01 00:00:00",
            "success": True, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1",
            "biz_id": "12345********", "out_id": "67890**", **changes}


@dataclass
class Setup:
    runtime: Runtime
    store: StoreRow
    http: httpx.AsyncClient
    url: str  # the store's SmsReport URL, as the CLI printed it

    async def post(self, body: Any, url: str | None = None) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return await self.http.post((url or self.url).removeprefix(PUBLIC), content=raw,
                                    headers={"content-type": "application/json;charset=utf-8"})


@pytest.fixture
async def setup(database_url: str) -> AsyncIterator[Setup]:
    async with running(database_url, FrozenClock(datetime.now(UTC)), base_url=PUBLIC) as runtime:
        store, _ = await add_store(runtime, JP_STORE)
        printed = await asyncio.to_thread(  # the command runs its own event loop
            CliRunner().invoke, build_app(), ["store", "webhooks", "kumo", "--base-url", PUBLIC],
            env={"AFTERORDER_DATABASE_URL": database_url})
        assert printed.exit_code == 0, printed.stderr
        urls = json.loads(printed.stdout)["webhooks"]
        assert urls["line"] == f"{PUBLIC}/webhooks/line/kumo" and urls["twilio"] == f"{PUBLIC}/webhooks/twilio/kumo"
        assert urls["esp:sendgrid"] == f"{PUBLIC}/webhooks/esp/sendgrid/kumo"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t",
                                     timeout=10) as http:
            yield Setup(runtime, store, http, urls["aliyun_sms"])


async def test_the_printed_url_takes_the_documented_sample(setup: Setup) -> None:
    token = report_token(setup.store, setup.runtime.signers.of(setup.store))
    assert setup.url == f"{PUBLIC}/webhooks/aliyun_sms/kumo/{token}"
    delivered = await sent_message(setup.runtime, setup.store, channel="sms", recipient="+8613811112222",
                                   provider="aliyun_sms", provider_message_id="12345********")
    untouched = await sent_message(setup.runtime, setup.store, channel="sms", recipient="+8613811113333",
                                   provider="aliyun_sms", provider_message_id="99999^888")
    answer = await setup.post([sample()])
    assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "接收成功"}
    row = await message_row(setup.runtime, delivered)
    assert row["provider_status"] == "delivered" and row["provider_status_detail"] == "DELIVERED 用户接收成功"
    assert row["provider_status_at"] == datetime(2017, 1, 1, tzinfo=CHINA), "report_time is China time"
    assert (await message_row(setup.runtime, untouched))["provider_status"] is None


async def test_several_reports_at_once_and_failures(setup: Setup) -> None:
    now = datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    first = await sent_message(setup.runtime, setup.store, channel="sms", recipient="+8613811112222",
                               provider="aliyun_sms", provider_message_id="900001^0")
    second = await sent_message(setup.runtime, setup.store, channel="sms", recipient="+8613811113333",
                                provider="aliyun_sms", provider_message_id="900002^0")
    answer = await setup.post([
        sample(biz_id="900001^0", report_time=now),
        sample(biz_id="900002^0", report_time=now, success=False, err_code="MK:0001", err_msg="号码状态异常"),
        sample(biz_id="not-ours", report_time=now)])
    assert answer.json() == {"code": 0, "msg": "接收成功"}, "an unknown biz_id is no reason for Alibaba to retry"
    assert (await message_row(setup.runtime, first))["provider_status"] == "delivered"
    failed = await message_row(setup.runtime, second)
    assert failed["provider_status"] == "undelivered" and failed["provider_status_detail"] == "MK:0001 号码状态异常"


async def test_a_wrong_token_gets_401_and_changes_nothing(setup: Setup) -> None:
    message = await sent_message(setup.runtime, setup.store, channel="sms", recipient="+8613811112222",
                                 provider="aliyun_sms", provider_message_id="12345********")
    other, _ = await add_store(setup.runtime, US_STORE)
    theirs = report_token(other, setup.runtime.signers.of(other))
    for url in (setup.url[:-3] + "AAA", f"{PUBLIC}/webhooks/aliyun_sms/kumo/{theirs}",
                f"{PUBLIC}/webhooks/aliyun_sms/kumo/x"):
        answer = await setup.post([sample()], url)
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized", (url, answer.text)
    assert (await setup.post([sample()], f"{PUBLIC}/webhooks/aliyun_sms/nosuch/x")).status_code == 404
    assert (await message_row(setup.runtime, message))["provider_status"] is None


async def test_bad_bodies_get_400_naming_what_is_wrong(setup: Setup) -> None:
    message = await sent_message(setup.runtime, setup.store, channel="sms", recipient="+8613811112222",
                                 provider="aliyun_sms", provider_message_id="12345********")
    for body, named in ((b"{oops", "not JSON"), ({"reports": []}, "JSON array"), ([7], "[0] is not an object"),
                        ([sample(), sample(success="yes")], "[1].success"),
                        ([sample(biz_id="")], "[0].biz_id"), ([sample(report_time="01/01/2017")], "[0].report_time")):
        answer = await setup.post(body)
        assert answer.status_code == 400 and answer.json()["error"] == "malformed", answer.text
        assert named in answer.json()["message"]
    assert (await message_row(setup.runtime, message))["provider_status"] is None, "not even the good first report"

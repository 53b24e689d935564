"""What cannot be sent is refused at the door, naming the problem, with nothing of it stored: a flow
step on a channel the store has not set up, a channel that does not exist, China's SMS bans, a phone
number that is not one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from afterorder.clock import SystemClock
from afterorder.db.schema import customers, events
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.e2e.processes import add_store_cli, cli
from tests.factories import add_store, order_event, running

REVIEW_BY_SMS = """\
id: review-by-sms
trigger: order.delivered
category: marketing
steps:
  - wait: 5d
  - send:
      template: review-request
      category: marketing
      channels: [sms, email]
"""
NOTICE_ON_LINE = """\
id: notice-on-line
trigger: order.shipped
steps:
  - send:
      template: shipping-confirmation
      category: transactional
      channel: line
"""


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERORDER_SECRET_KEY", Fernet.generate_key().decode())


def flows_dir(tmp_path: Path, slug: str, **files: str) -> Path:
    folder = tmp_path / "flows" / slug
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return tmp_path / "flows"


def state_of(database: str, flows: Path, slug: str, flow: str) -> str:
    listed = json.loads(cli("flows", "list", "--store", slug, "--json", "--flows", str(flows),
                            database=database).stdout)
    return str({f["id"]: f["state"] for f in listed}[flow])


def test_a_flow_on_a_channel_the_store_has_not_set_up_is_refused_until_it_is(sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "kumo", country="JP")
    flows = flows_dir(tmp_path, "kumo", **{"notice-on-line": NOTICE_ON_LINE})
    refused = cli("flows", "enable", "notice-on-line", "--store", "kumo", "--flows", str(flows), database=sqlite_url,
                  check=False)
    assert refused.returncode == 1
    assert "is sent on line, which this store has not set up" in refused.stderr
    assert state_of(sqlite_url, flows, "kumo", "notice-on-line") == "off", "nothing stored"
    cli("channels", "set", "kumo", "line", "--channel-access-token", "t0ken", "--channel-secret", "s3cret",
        database=sqlite_url)
    cli("flows", "enable", "notice-on-line", "--store", "kumo", "--flows", str(flows), database=sqlite_url)
    assert state_of(sqlite_url, flows, "kumo", "notice-on-line") == "on"


def test_a_chinese_store_cannot_send_review_invitations_by_marketing_sms(sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "yun", country="CN", locale="zh-Hans", timezone="Asia/Shanghai", currency="CNY")
    cli("channels", "set", "yun", "aliyun_sms", "--access-key-id", "LTAI0000", "--access-key-secret", "k3y",
        "--sign-name", "云茶铺", "--template", "review-request=SMS_100001", database=sqlite_url)
    flows = flows_dir(tmp_path, "yun", **{"review-by-sms": REVIEW_BY_SMS})
    refused = cli("flows", "enable", "review-by-sms", "--store", "yun", "--flows", str(flows), database=sqlite_url,
                  check=False)
    assert refused.returncode == 1
    assert "do not carry review invitations in marketing SMS: send it on LINE or by email" in refused.stderr
    assert state_of(sqlite_url, flows, "yun", "review-by-sms") == "off"


def test_an_sms_step_needs_an_approved_alibaba_template(sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "yun", country="HK", locale="zh-Hans", timezone="Asia/Hong_Kong", currency="HKD")
    cli("channels", "set", "yun", "aliyun_sms", "--access-key-id", "LTAI0000", "--access-key-secret", "k3y",
        "--sign-name", "云茶铺", "--template", "order-confirmation=SMS_100001", database=sqlite_url)
    flows = flows_dir(tmp_path, "yun", **{"review-by-sms": REVIEW_BY_SMS})
    refused = cli("flows", "enable", "review-by-sms", "--store", "yun", "--flows", str(flows), database=sqlite_url,
                  check=False)
    assert refused.returncode == 1 and "give the approved code of review-request" in refused.stderr


def test_a_flow_naming_a_channel_that_does_not_exist_stops_serve(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "fax.yaml").write_text(NOTICE_ON_LINE.replace("id: notice-on-line", "id: fax")
                                       .replace("channel: line", "channel: fax"))
    result = cli("serve", "--flows", str(tmp_path), "--smtp", "smtp://127.0.0.1:1", database=sqlite_url, check=False)
    assert result.returncode == 1
    assert "steps[0].send.channel: unknown channel 'fax'; channels: email, line, sms" in result.stderr


async def test_an_invalid_phone_number_is_refused_naming_the_field_and_nothing_is_stored(sqlite_url: str) -> None:
    async with running(sqlite_url, SystemClock()) as runtime:
        _, key = await add_store(runtime)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://afterorder.test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            event = order_event("order.placed", "P1", T0)
            event["customer"]["phone"] = "090-12"
            answer = await client.post("/api/v1/events", json=event)
            assert answer.status_code == 422, answer.text
            assert [d["field"] for d in answer.json()["details"]] == ["customer.phone"]
            assert "'090-12' is not a valid phone number" in answer.json()["details"][0]["message"]
            async with runtime.engine.connect() as conn:
                assert (await conn.execute(select(func.count()).select_from(events))).scalar_one() == 0
            event["customer"]["phone"] = "090-1234-5678"
            assert (await client.post("/api/v1/events", json=event)).status_code == 200
            async with runtime.engine.connect() as conn:
                phones = [r.phone for r in await conn.execute(select(customers.c.phone))]
    assert phones == ["+819012345678"], "kept in E.164"

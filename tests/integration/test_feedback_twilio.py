"""Twilio webhooks over real HTTP, on SQLite and PostgreSQL: the signature checked against the public
URL Twilio was given (afterorder behind a proxy), STOP suppressing the number for marketing at once
with the consent change recorded, START undoing it, HELP answered in TwiML, status callbacks
updating the right message, permanent failures recorded as bounces, bad requests refused.

Twilio's published worked example is checked in ``tests/unit/test_feedback_signatures.py`` (its URL
is not a route of afterorder's); here requests are signed with the same function for this store's
public URL.  Twilio's own status-callback and incoming-message samples are not among the fixtures:
the bodies below use the parameter names of Twilio's webhook reference."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from afterorder.channels.setup import update_prefs
from afterorder.clock import FrozenClock
from afterorder.compliance.consent import Change, ConsentMethod, ConsentStatus, marketing_view, record
from afterorder.compliance.suppression import blocked_reason, reasons_for
from afterorder.db.schema import events
from afterorder.db.stores import StoreRow
from afterorder.feedback import twilio
from afterorder.privacy.data_rights import erase_customer
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import JP_STORE, US_STORE, add_store, running
from tests.feedback_helpers import (
    add_channel,
    add_customer,
    consent_log,
    message_row,
    secret_key,
    sent_message,
    suppressed,
)
from tests.loopback import loopback

__all__ = ["secret_key"]  # the fixture, used by name
PUBLIC = "https://ao.harbor.example"
AUTH_TOKEN = "harbor-twilio-auth-token-0123456789"
PHONE, OTHER = "+14155550100", "+14155550199"


@dataclass
class Setup:
    runtime: Runtime
    store: StoreRow
    http: httpx.AsyncClient  # to afterorder's loopback port (the "proxy" behind PUBLIC)

    async def post(self, params: list[tuple[str, str]], *, url: str | None = None, token: str = AUTH_TOKEN,
                   signature: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST ``params`` as Twilio would to the public ``url``, reaching afterorder through the proxy."""
        url = url or f"{PUBLIC}/webhooks/twilio/{self.store.slug}"
        parts = urlsplit(url)
        sent = {"content-type": "application/x-www-form-urlencoded",
                "x-twilio-signature": signature if signature is not None else twilio.signature(token, url, params),
                **(headers or {})}
        return await self.http.post(parts.path + (f"?{parts.query}" if parts.query else ""),
                                    content=urlencode(params).encode(), headers=sent)


@pytest.fixture
async def setup(database_url: str, secret_key: str) -> AsyncIterator[Setup]:
    async with running(database_url, FrozenClock(datetime.now(UTC)), base_url=PUBLIC) as runtime:
        store, _ = await add_store(runtime, US_STORE)
        await add_channel(runtime, store, "twilio", {"from": "+15005550006", "account_sid": "AC" + "0" * 32,
                                                     "auth_token": AUTH_TOKEN,
                                                     "status_callback": f"{PUBLIC}/webhooks/twilio/harbor"})
        async with loopback(create_app(runtime)) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
            yield Setup(runtime, store, http)


def incoming(body: str, phone: str = PHONE) -> list[tuple[str, str]]:
    return [("ToCountry", "US"), ("SmsMessageSid", "SM" + "a" * 32), ("NumMedia", "0"), ("From", phone),
            ("To", "+15005550006"), ("Body", body), ("MessageSid", "SM" + "a" * 32), ("AccountSid", "AC" + "0" * 32),
            ("SmsStatus", "received"), ("NumSegments", "1"), ("ApiVersion", "2010-04-01")]


def status(sid: str, value: str, to: str = PHONE, error: str | None = None) -> list[tuple[str, str]]:
    params = [("MessageSid", sid), ("SmsSid", sid), ("MessageStatus", value), ("SmsStatus", value), ("To", to),
              ("From", "+15005550006"), ("AccountSid", "AC" + "0" * 32), ("ApiVersion", "2010-04-01")]
    return params + ([("ErrorCode", error)] if error else [])


def message_of(answer: httpx.Response) -> str | None:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(answer.text)
    assert root.tag == "Response"
    found = root.find("Message")
    return None if found is None else found.text


async def blocked(runtime: Runtime, store: StoreRow, phone: str) -> tuple[str | None, str | None]:
    """What delivery's gate would say for (a marketing SMS, a transactional SMS) to ``phone``."""
    async with runtime.engine.connect() as conn:
        reasons = (await reasons_for(conn, [(store.id, phone)]))[(store.id, phone)]
    return blocked_reason("marketing", reasons), blocked_reason("transactional", reasons)


# ---- signatures ------------------------------------------------------------------------------------

async def test_the_signature_is_checked_against_the_public_url(setup: Setup) -> None:
    assert message_of(await setup.post(incoming("hello"))) is None, "signed for the public URL: accepted"
    with_port = f"{PUBLIC}:443/webhooks/twilio/harbor"
    assert (await setup.post(incoming("hello"), url=with_port)).status_code == 200, "the port is optional"
    with_query = f"{PUBLIC}/webhooks/twilio/harbor?tenant=harbor&v=2"
    assert (await setup.post(incoming("hello"), url=with_query)).status_code == 200
    as_requested = str(setup.http.base_url).rstrip("/") + "/webhooks/twilio/harbor"  # the loopback host
    wrong_host = twilio.signature(AUTH_TOKEN, as_requested, incoming("STOP"))
    refused = [await setup.post(incoming("STOP"), signature=wrong_host),
               await setup.post(incoming("STOP"), token="not the store's token"),
               await setup.post(incoming("STOP"), signature=""),
               await setup.post(incoming("STOP"), url=with_query,
                                signature=twilio.signature(AUTH_TOKEN, f"{PUBLIC}/webhooks/twilio/harbor",
                                                           incoming("STOP")))]
    for answer in refused:
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized", answer.text
    assert await suppressed(setup.runtime) == [], "nothing of a refused request is applied"


async def test_unknown_store_or_no_twilio_channel_is_404(setup: Setup) -> None:
    await add_store(setup.runtime, JP_STORE)
    assert (await setup.post(incoming("STOP"), url=f"{PUBLIC}/webhooks/twilio/nosuch")).status_code == 404
    unset = await setup.post(incoming("STOP"), url=f"{PUBLIC}/webhooks/twilio/kumo")
    assert unset.status_code == 404 and unset.json()["error"] == "not_configured"


async def test_bad_bodies_get_400_naming_what_is_wrong(setup: Setup) -> None:
    url = f"{PUBLIC}/webhooks/twilio/harbor"
    as_json = await setup.http.post("/webhooks/twilio/harbor", json={"Body": "STOP", "From": PHONE},
                                    headers={"x-twilio-signature": twilio.signature(AUTH_TOKEN, url, [])})
    assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.json()["message"]
    for params, named in ((incoming("STOP", phone="4155550100"), "From"),
                          ([("MessageStatus", "delivered"), ("To", PHONE)], "MessageSid"),
                          ([("AccountSid", "AC1")], "MessageStatus"),
                          (status("SM1", "undelivered", to="nobody", error="30005"), "To")):
        answer = await setup.post(params)
        assert answer.status_code == 400 and answer.json()["error"] == "malformed", answer.text
        assert named in answer.json()["message"]
    assert await suppressed(setup.runtime) == []


# ---- STOP, START, HELP --------------------------------------------------------------------------------

async def test_stop_suppresses_marketing_at_once_and_records_the_consent_change(setup: Setup) -> None:
    runtime, store = setup.runtime, setup.store
    subscriber = await add_customer(runtime, store, "c1", phone=PHONE, locale="en")
    same_phone = await add_customer(runtime, store, "c2", phone=PHONE, locale="en")
    bystander = await add_customer(runtime, store, "c3", phone=OTHER, locale="en")
    async with runtime.engine.begin() as conn:
        await record(conn, [Change(store.id, c, ConsentStatus.GRANTED, ConsentMethod.FORM, "sms", wording="sign-up")
                            for c in (subscriber, bystander)], runtime.clock.now())
    assert await blocked(runtime, store, PHONE) == (None, None)

    assert message_of(await setup.post(incoming(" stop "))) is None
    assert await blocked(runtime, store, PHONE) == ("address suppressed (unsubscribe)", None), \
        "no more marketing to the number; order updates still go"
    assert await blocked(runtime, store, OTHER) == (None, None)
    assert await suppressed(runtime) == [(PHONE, "unsubscribe", "twilio")]
    assert await consent_log(runtime, subscriber) == [
        ("sms", "granted", "form", None, "sign-up"), ("sms", "withdrawn", "sms_keyword", "granted", "SMS reply: stop")]
    assert await consent_log(runtime, same_phone) == [("sms", "withdrawn", "sms_keyword", None, "SMS reply: stop")]
    assert len(await consent_log(runtime, bystander)) == 1
    async with runtime.engine.connect() as conn:
        view = await marketing_view(conn, [(store.id, subscriber), (store.id, bystander)], channel="sms")
    assert view.status == {(store.id, subscriber): "withdrawn", (store.id, bystander): "granted"}

    assert message_of(await setup.post(incoming("QUIT"))) is None
    assert len(await consent_log(runtime, subscriber)) == 2, "a second STOP records nothing new"
    await setup.post(incoming("please stop sending the cat facts"))
    await setup.post(incoming("UNSTOP"))
    assert await blocked(runtime, store, PHONE) == (None, None)
    assert await suppressed(runtime) == []
    assert (await consent_log(runtime, subscriber))[-1] == ("sms", "granted", "sms_keyword", "withdrawn",
                                                            "SMS reply: UNSTOP")


async def test_help_is_answered_with_the_stores_help_text(setup: Setup) -> None:
    default = message_of(await setup.post(incoming("help")))
    assert default == "Harbor Goods: for help contact help@harbor.example. Reply STOP to unsubscribe."
    async with setup.runtime.engine.begin() as conn:
        await update_prefs(conn, setup.store.id, setup.runtime.clock.now(),
                           sms_help="Harbor Goods <help> & returns: 1-800-555-0100. Msg&data rates may apply.")
    assert message_of(await setup.post(incoming(" INFO"))) == \
        "Harbor Goods <help> & returns: 1-800-555-0100. Msg&data rates may apply."
    assert message_of(await setup.post(incoming("helpful tip"))) is None


# ---- status callbacks ---------------------------------------------------------------------------------

async def test_status_callbacks_update_the_right_message(setup: Setup) -> None:
    runtime, store = setup.runtime, setup.store
    first = await sent_message(runtime, store, channel="sms", recipient=PHONE, provider="twilio",
                               provider_message_id="SM" + "1" * 32)
    second = await sent_message(runtime, store, channel="sms", recipient=OTHER, provider="twilio",
                                provider_message_id="SM" + "2" * 32)
    for value in ("queued", "sent", "delivered", "sent"):  # the last one late, out of order
        assert message_of(await setup.post(status("SM" + "2" * 32, value, to=OTHER))) is None
    row = await message_row(runtime, second)
    assert row["provider_status"] == "delivered" and row["provider_status_detail"] == "delivered"
    assert row["provider_status_at"] is not None
    assert (await message_row(runtime, first))["provider_status"] is None
    await setup.post(status("SM" + "9" * 32, "delivered"))  # not one of ours: nothing happens
    await setup.post(status("SM" + "1" * 32, "partially_teleported"))  # a status Twilio may add one day
    assert (await message_row(runtime, first))["provider_status"] is None


async def test_a_permanent_failure_is_a_bounce_of_the_number(setup: Setup) -> None:
    runtime, store = setup.runtime, setup.store
    gone = await sent_message(runtime, store, channel="sms", recipient=PHONE, provider="twilio",
                              provider_message_id="SM" + "3" * 32)
    busy = await sent_message(runtime, store, channel="sms", recipient=OTHER, provider="twilio",
                              provider_message_id="SM" + "4" * 32)
    await setup.post(status("SM" + "3" * 32, "undelivered", error="30005"))
    await setup.post(status("SM" + "4" * 32, "undelivered", to=OTHER, error="30003"))
    row = await message_row(runtime, gone)
    assert row["provider_status"] == "undelivered"
    assert row["provider_status_detail"] == "undelivered 30005 unknown destination handset"
    assert (await message_row(runtime, busy))["provider_status"] == "undelivered"
    async with runtime.engine.connect() as conn:
        stored = [dict(r) for r in (await conn.execute(select(events))).mappings()]
    [bounce] = [e for e in stored if e["type"] == "message.bounced"]
    assert bounce["source"] == "esp:twilio"
    assert bounce["payload"]["message"]["outbox_id"] == gone
    assert bounce["payload"]["properties"]["recipient"] == PHONE and bounce["payload"]["properties"]["bounce"] == "hard"
    raw: dict[str, Any] = bounce["raw"]
    assert raw["ErrorCode"] == "30005"
    assert await suppressed(runtime) == [(PHONE, "hard_bounce", "twilio")], "the temporary failure suppresses nothing"
    assert await blocked(runtime, store, PHONE) == ("address suppressed (hard_bounce)",) * 2
    await setup.post(status("SM" + "3" * 32, "undelivered", error="30005"))  # Twilio retried its callback
    async with runtime.engine.connect() as conn:
        assert len([r for r in await conn.execute(select(events.c.type)) if r.type == "message.bounced"]) == 1


async def test_erasing_the_customer_keeps_the_number_blocked_without_the_number(setup: Setup) -> None:
    runtime, store = setup.runtime, setup.store
    await add_customer(runtime, store, "c1", phone=PHONE, locale="en")
    await setup.post(incoming("STOP"))
    async with runtime.engine.begin() as conn:
        touched = await erase_customer(conn, store.id, "c1", runtime.clock.now())
    assert touched["suppressions"] == 1
    assert await suppressed(runtime) == [(None, "unsubscribe", "twilio")]
    assert (await blocked(runtime, store, PHONE))[0] == "address suppressed (unsubscribe)"

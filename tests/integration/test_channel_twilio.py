"""The Twilio channel against the local Twilio server on loopback: the form, the auth, the 201 and
Twilio's error codes, each to the outcome a store owner would expect."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.responses import JSONResponse, Response

from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.catalog import provider
from afterorder.channels.twilio import TwilioChannel
from afterorder.dev.sinks.twilio import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, TwilioSink, error, too_many_requests
from tests.loopback import loopback

FIXTURES = Path(__file__).parents[1] / "fixtures" / "twilio"
SENDER = "+14155552345"
CALLBACK = "https://afterorder.example/webhooks/twilio/sakura-tea"
TEXT = "Sakura Tea: your order #1001 has shipped. Track it: https://afterorder.example/c/Ab3"


def sms(to: str = "+14155550100", text: str = TEXT) -> OutgoingMessage:
    payload = {"text": text, "params": {"order": "#1001"}}
    return OutgoingMessage(f"<{uuid.uuid4().hex}@sakura-tea.example>", "", (to,),
                           json.dumps(payload, ensure_ascii=False).encode(), ChannelKind.SMS, template="shipping")


@dataclass
class Twilio:
    sink: TwilioSink
    url: str
    channel: TwilioChannel


@pytest.fixture
async def twilio() -> AsyncIterator[Twilio]:
    sink = TwilioSink()
    async with loopback(sink.app()) as url:
        channel = TwilioChannel(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, sender=SENDER, status_callback=CALLBACK,
                                api_base=url, timeout=5)
        yield Twilio(sink, url, channel)
        await channel.close()


def form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode(), strict_parsing=True).items()}


async def test_an_sms_goes_out_as_twilios_form_with_basic_auth(twilio: Twilio) -> None:
    message = sms()

    result = await twilio.channel.send(message)

    assert result.outcome is SendOutcome.SENT and result.code == 201
    [request] = twilio.sink.requests
    assert request.path == f"/2010-04-01/Accounts/{DEV_ACCOUNT_SID}/Messages.json"
    scheme, credentials = request.headers["authorization"].split(" ")
    assert scheme == "Basic" and base64.b64decode(credentials).decode() == f"{DEV_ACCOUNT_SID}:{DEV_AUTH_TOKEN}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request.body) == {"To": "+14155550100", "From": SENDER, "Body": TEXT, "StatusCallback": CALLBACK}
    [held] = twilio.sink.accepted
    assert result.provider_id == held.provider_id and held.provider_id.startswith("SM")
    assert twilio.sink.callbacks[held.provider_id] == CALLBACK


async def test_the_local_server_answers_with_the_message_resource_of_twilios_own_samples(twilio: Twilio) -> None:
    sample = json.loads((FIXTURES / "message_create_response.queued.json").read_text())
    auth = (DEV_ACCOUNT_SID, DEV_AUTH_TOKEN)

    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{twilio.url}/2010-04-01/Accounts/{DEV_ACCOUNT_SID}/Messages.json", auth=auth,
                                   data={"To": "+14155552345", "From": SENDER, "Body": "Hello! 👍"})

    created = answer.json()
    assert answer.status_code == 201 and set(created) == set(sample)
    assert {k: created[k] for k in ("status", "direction", "num_segments", "body")} == {
        "status": "queued", "direction": "outbound-api", "num_segments": "1", "body": "Hello! 👍"}


async def test_japanese_text_arrives_as_written(twilio: Twilio) -> None:
    text = "【さくら茶舗】ご注文#1001を発送しました。お届け状況: https://afterorder.example/c/Ab3"

    result = await twilio.channel.send(sms("+819012345678", text))

    assert result.outcome is SendOutcome.SENT
    assert twilio.sink.accepted[0].payload == text


async def test_a_messaging_service_sends_instead_of_a_number(twilio: Twilio) -> None:
    service = "MG" + "c" * 32
    channel = TwilioChannel(DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, messaging_service_sid=service, api_base=twilio.url)

    result = await channel.send(sms())
    await channel.close()

    assert result.outcome is SendOutcome.SENT
    sent = form(twilio.sink.requests[0].body)
    assert sent["MessagingServiceSid"] == service and "From" not in sent and "StatusCallback" not in sent


async def test_a_recipient_who_replied_stop_is_permanent_with_twilios_code(twilio: Twilio) -> None:
    twilio.sink.unsubscribed.add("+14155550100")

    result = await twilio.channel.send(sms())

    assert result.outcome is SendOutcome.PERMANENT and result.code == 400
    assert result.detail.startswith("twilio 21610:") and "unsubscribed" in result.detail
    assert not twilio.sink.accepted


async def test_a_number_that_is_not_a_mobile_is_permanent(twilio: Twilio) -> None:
    twilio.sink.not_mobile.add("+14155550100")

    result = await twilio.channel.send(sms())

    assert result.outcome is SendOutcome.PERMANENT and "21614" in result.detail


@pytest.mark.parametrize("code", [21211, 21408, 21606, 21608, 21612])
async def test_twilios_refusals_are_permanent(twilio: Twilio, code: int) -> None:
    twilio.sink.trouble = lambda _: error(code, f"refused {code}")

    result = await twilio.channel.send(sms())

    assert result.outcome is SendOutcome.PERMANENT and f"twilio {code}: refused {code}" in result.detail


async def test_too_many_requests_is_busy_after_twilios_delay(twilio: Twilio) -> None:
    twilio.sink.trouble = lambda _: too_many_requests(3)

    result = await twilio.channel.send(sms())

    assert result.outcome is SendOutcome.TEMPORARY and result.busy is Busy.THROTTLED
    assert result.retry_after == 3.0 and not result.unknown and "20429" in result.detail


async def test_code_20429_in_another_status_is_busy_too(twilio: Twilio) -> None:
    twilio.sink.trouble = lambda _: error(20429, "Too Many Requests", 400)

    result = await twilio.channel.send(sms())

    assert result.busy is Busy.THROTTLED


async def test_refused_credentials_wait_for_the_operator(twilio: Twilio) -> None:
    channel = TwilioChannel(DEV_ACCOUNT_SID, "old-token", sender=SENDER, api_base=twilio.url)

    result = await channel.send(sms())
    await channel.close()

    assert result.outcome is SendOutcome.TEMPORARY and result.code == 401
    assert not result.unknown and result.busy is None and "credentials" in result.detail
    assert not twilio.sink.accepted


@pytest.mark.parametrize("answer", [
    lambda: JSONResponse({"code": 20500, "message": "Internal Server Error", "status": 500}, 500),
    lambda: Response("<html>Bad Gateway</html>", 502),
])
async def test_a_server_error_is_unknown(twilio: Twilio, answer: Callable[[], Response]) -> None:
    twilio.sink.trouble = lambda _: answer()

    result = await twilio.channel.send(sms())

    assert result.outcome is SendOutcome.TEMPORARY and result.unknown


async def test_an_unknown_error_code_goes_by_the_status(twilio: Twilio) -> None:
    twilio.sink.trouble = lambda _: error(21999, "Something new")

    result = await twilio.channel.send(sms())

    assert result.outcome is SendOutcome.PERMANENT and "twilio 21999: Something new" in result.detail


@pytest.mark.parametrize(("to", "text", "reason"), [
    ("+14155550100", "x" * 1_601, "1,600 characters"),
    ("+14155550100", "  ", "empty"),
    ("4155550100", TEXT, "E.164"),
])
async def test_what_twilio_would_refuse_is_permanent_and_never_sent(twilio: Twilio, to: str, text: str,
                                                                   reason: str) -> None:
    result = await twilio.channel.send(sms(to, text))

    assert result.outcome is SendOutcome.PERMANENT and reason in result.detail
    assert not twilio.sink.requests


async def test_the_provider_builds_a_channel_from_the_stores_options(twilio: Twilio) -> None:
    spec = provider("twilio")
    options = spec.check({"account_sid": DEV_ACCOUNT_SID, "auth_token": DEV_AUTH_TOKEN, "from": SENDER,
                          "api_base": twilio.url})

    async with httpx.AsyncClient() as client:
        result = await spec.build(options, client).send(sms())

    assert result.outcome is SendOutcome.SENT and form(twilio.sink.requests[0].body)["From"] == SENDER

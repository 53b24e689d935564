"""The SendGrid channel against the local SendGrid (dev/sinks/sendgrid.py) on loopback: the mail/send
body read from our MIME, the key, and what each of SendGrid's answers means for the message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from starlette.responses import Response

from afterorder.channels.base import Busy, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.sendgrid import SendgridChannel
from afterorder.dev.sinks import sendgrid
from afterorder.dev.sinks.base import SeenRequest, Sink
from tests.loopback import loopback
from tests.mail_samples import HTML, SUBJECT, UNSUBSCRIBE, outgoing_email

API_KEY = "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"


@dataclass
class LocalSendgrid:
    sink: Sink
    url: str

    def channel(self, api_key: str = API_KEY, *, timeout: float = 5.0) -> SendgridChannel:
        return SendgridChannel(api_key, api_base=self.url, timeout=timeout)

    async def send(self, message: OutgoingMessage | None = None, channel: SendgridChannel | None = None
                   ) -> SendResult:
        channel = channel or self.channel()
        try:
            return await channel.send(message or outgoing_email())
        finally:
            await channel.close()


@pytest.fixture
async def local() -> AsyncIterator[LocalSendgrid]:
    sink = Sink()
    async with loopback(sendgrid.app(sink, api_key=API_KEY)) as url:
        yield LocalSendgrid(sink, url)


async def test_sendgrid_gets_the_message_as_fields_and_its_id_is_kept(local: LocalSendgrid) -> None:
    dkim = b"DKIM-Signature: v=1; a=rsa-sha256; d=sakura-tea.example; s=ao;\r\n b=c2ln\r\n"
    message = outgoing_email("taro@example.jp", extra_headers={"X-SG-EID": "ours-not-theirs"}, prefix=dkim)

    result = await local.send(message)

    assert result.outcome is SendOutcome.SENT and result.code == 202
    [accepted] = local.sink.accepted
    [request] = local.sink.requests
    assert result.provider_id == accepted.provider_id and result.provider_id
    assert request.path == "/v3/mail/send"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = accepted.payload
    assert body["personalizations"] == [{"to": [{"email": "taro@example.jp"}]}]
    assert body["from"] == {"email": "shop@sakura-tea.example", "name": "さくら茶舗, 京都本店"}
    assert body["reply_to"] == {"email": "help@sakura-tea.example"}
    assert body["subject"] == SUBJECT
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][1]["value"].strip() == HTML
    assert body["headers"] == {"Message-ID": message.message_id, "X-Afterorder-Category": "transactional",
                               "List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert body["custom_args"] == {"afterorder_message_id": message.message_id}
    assert accepted.key == message.message_id
    assert body["categories"] == ["transactional"]


async def test_a_wrong_key_is_refused_by_sendgrid_and_the_message_waits_for_the_operator(
        local: LocalSendgrid) -> None:
    result = await local.send(channel=local.channel("SG.revoked"))

    assert result.outcome is SendOutcome.TEMPORARY and result.code == 401
    assert "authorization grant is invalid" in result.detail and "operator" in result.detail
    assert local.sink.accepted == []


async def test_a_forbidden_key_also_waits(local: LocalSendgrid) -> None:
    local.sink.trouble = lambda _: sendgrid.error(403, "access forbidden")

    result = await local.send()

    assert result.outcome is SendOutcome.TEMPORARY and result.code == 403 and "Mail Send permission" in result.detail


async def test_a_rate_limit_waits_until_sendgrid_resets_it(local: LocalSendgrid) -> None:
    local.sink.trouble = lambda _: sendgrid.rate_limited(30)

    result = await local.send()

    assert (result.outcome, result.busy) == (SendOutcome.TEMPORARY, Busy.THROTTLED)
    assert result.retry_after is not None and 29 <= result.retry_after <= 32
    assert "too many requests" in result.detail


async def test_an_address_sendgrid_refuses_is_permanent_and_names_the_field(local: LocalSendgrid) -> None:
    result = await local.send(outgoing_email("taro.example.jp"))

    assert result.outcome is SendOutcome.PERMANENT and result.code == 400
    assert "personalizations.0.to.0.email: Does not contain a valid address." in result.detail


async def test_a_message_too_large_is_permanent(local: LocalSendgrid) -> None:
    local.sink.trouble = lambda _: sendgrid.error(413, "The JSON payload you have included is too large.")

    result = await local.send()

    assert (result.outcome, result.code) == (SendOutcome.PERMANENT, 413)


async def test_a_server_error_may_have_been_taken(local: LocalSendgrid) -> None:
    local.sink.trouble = lambda _: Response("upstream error", status_code=502)

    result = await local.send()

    assert result.outcome is SendOutcome.TEMPORARY and result.unknown


async def test_no_answer_within_the_timeout_is_an_unknown_outcome(local: LocalSendgrid) -> None:
    async def hang(_: SeenRequest) -> Response:
        await asyncio.sleep(1.0)
        return Response(status_code=500)

    local.sink.trouble = hang

    result = await local.send(channel=local.channel(timeout=0.2))

    assert result.outcome is SendOutcome.TEMPORARY and result.unknown


async def test_a_message_that_cannot_be_read_is_refused_without_a_request(local: LocalSendgrid) -> None:
    message = OutgoingMessage("<x@example.com>", "b@example.com", ("a@example.com",),
                              b"To: a@example.com\r\nSubject: no sender\r\n\r\nhello\r\n")

    result = await local.send(message)

    assert result.outcome is SendOutcome.PERMANENT and "no From" in result.detail
    assert local.sink.requests == []


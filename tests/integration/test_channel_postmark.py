"""The Postmark channel against the local Postmark (dev/sinks/postmark.py) on loopback: batches of
messages sent close together, each sender's own result, and what Postmark's answers mean."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.responses import Response

from afterorder.channels.base import Busy, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.postmark import PostmarkChannel
from afterorder.dev.sinks import postmark
from afterorder.dev.sinks.base import SeenRequest, Sink
from tests.loopback import loopback
from tests.mail_samples import HTML, SUBJECT, outgoing_email

TOKEN = "f9b7c5e0-4a8d-4f3e-9c21-0d5b6a7e8f90"
BOUNCED = "bounced@example.jp"


@dataclass
class LocalPostmark:
    sink: Sink
    url: str

    def channel(self, token: str = TOKEN, *, timeout: float = 5.0, max_batch: int = 500,
                message_stream: str | None = None) -> PostmarkChannel:
        return PostmarkChannel(token, api_base=self.url, timeout=timeout, max_batch=max_batch,
                               message_stream=message_stream)

    async def send_all(self, messages: list[OutgoingMessage], channel: PostmarkChannel | None = None
                       ) -> list[SendResult]:
        channel = channel or self.channel()
        try:
            return list(await asyncio.gather(*(channel.send(m) for m in messages)))
        finally:
            await channel.close()

    def batches(self) -> list[list[dict[str, Any]]]:
        return [json.loads(r.body) for r in self.sink.requests]


@pytest.fixture
async def local() -> AsyncIterator[LocalPostmark]:
    sink = Sink()
    async with loopback(postmark.app(sink, server_token=TOKEN, inactive={BOUNCED})) as url:
        yield LocalPostmark(sink, url)


async def test_one_message_is_a_batch_of_one_and_its_id_is_kept(local: LocalPostmark) -> None:
    message = outgoing_email("taro@example.jp", category="marketing")

    [result] = await local.send_all([message], local.channel(message_stream="broadcast"))

    assert result.outcome is SendOutcome.SENT and result.code == 200
    [accepted] = local.sink.accepted
    assert result.provider_id == accepted.provider_id and result.provider_id
    [request] = local.sink.requests
    assert request.path == "/email/batch"
    assert request.headers["x-postmark-server-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    [[entry]] = local.batches()
    assert entry["From"] == "=?utf-8?b?44GV44GP44KJ6Iy26IiXLCDkuqzpg73mnKzlupc=?= <shop@sakura-tea.example>"
    assert entry["To"] == "taro@example.jp"
    assert entry["ReplyTo"] == "help@sakura-tea.example"
    assert entry["Subject"] == SUBJECT
    assert str(entry["HtmlBody"]).strip() == HTML and "ご注文ありがとうございます。" in str(entry["TextBody"])
    assert {"Name": "Message-ID", "Value": message.message_id} in entry["Headers"]
    assert {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"} in entry["Headers"]
    assert (entry["Tag"], entry["MessageStream"]) == ("marketing", "broadcast")
    assert accepted.key == message.message_id


async def test_sends_close_together_share_a_request_and_each_gets_its_own_result(local: LocalPostmark) -> None:
    messages = [outgoing_email(f"customer{i}@example.jp") for i in range(19)]
    messages.insert(7, outgoing_email(BOUNCED))

    results = await local.send_all(messages)

    assert len(local.sink.requests) < len(messages)  # one, unless the loop was slow
    assert sum(len(batch) for batch in local.batches()) == 20
    refused = results[7]
    assert refused.outcome is SendOutcome.PERMANENT and "ErrorCode 406" in refused.detail and BOUNCED in refused.detail
    sent = results[:7] + results[8:]
    assert all(r.outcome is SendOutcome.SENT for r in sent)
    by_id = {a.provider_id: a for a in local.sink.accepted}
    assert len(by_id) == 19
    for message, result in zip(messages[:7] + messages[8:], sent, strict=True):
        accepted = by_id[result.provider_id]
        assert (accepted.key, accepted.to) == (message.message_id, message.recipients[0])


async def test_a_batch_stops_at_its_limit(local: LocalPostmark) -> None:
    results = await local.send_all([outgoing_email(f"c{i}@example.jp") for i in range(7)], local.channel(max_batch=3))

    assert [len(batch) for batch in local.batches()] == [3, 3, 1]
    assert all(r.outcome is SendOutcome.SENT for r in results)


async def test_a_wrong_token_is_refused_by_postmark_and_the_messages_wait(local: LocalPostmark) -> None:
    results = await local.send_all([outgoing_email(), outgoing_email()], local.channel("wrong-token"))

    assert all(r.outcome is SendOutcome.TEMPORARY and r.code == 401 for r in results)
    assert all("ErrorCode 10" in r.detail and "operator" in r.detail for r in results)
    assert local.sink.accepted == []


async def test_a_batch_refused_whole_is_sent_again_one_by_one(local: LocalPostmark) -> None:
    def refuse_batches(request: SeenRequest) -> Response | None:
        if len(json.loads(request.body)) > 1:
            return postmark.error(422, 300, "Invalid email request: the batch could not be read.")
        return None

    local.sink.trouble = refuse_batches

    results = await local.send_all([outgoing_email("a@example.jp"), outgoing_email(BOUNCED)])

    assert [len(batch) for batch in local.batches()] == [2, 1, 1]
    assert results[0].outcome is SendOutcome.SENT
    assert results[1].outcome is SendOutcome.PERMANENT and "ErrorCode 406" in results[1].detail


async def test_an_invalid_recipient_is_permanent(local: LocalPostmark) -> None:
    [result] = await local.send_all([outgoing_email("not-an-address")])

    assert result.outcome is SendOutcome.PERMANENT and "ErrorCode 300" in result.detail


async def test_a_rate_limit_is_a_delay_for_every_message_of_the_batch(local: LocalPostmark) -> None:
    local.sink.trouble = lambda _: postmark.rate_limited()

    results = await local.send_all([outgoing_email(), outgoing_email()])

    assert all((r.outcome, r.busy) == (SendOutcome.TEMPORARY, Busy.THROTTLED) for r in results)


async def test_an_account_out_of_credits_waits_an_hour(local: LocalPostmark) -> None:
    local.sink.trouble = lambda _: postmark.error(422, 405, "Not allowed to send: you have run out of credits.")

    [result] = await local.send_all([outgoing_email()])

    assert (result.outcome, result.busy, result.retry_after) == (SendOutcome.TEMPORARY, Busy.QUOTA, 3600.0)


async def test_a_server_error_may_have_been_taken(local: LocalPostmark) -> None:
    local.sink.trouble = lambda _: Response("Service Unavailable", status_code=500)

    results = await local.send_all([outgoing_email(), outgoing_email()])

    assert all(r.outcome is SendOutcome.TEMPORARY and r.unknown for r in results)


async def test_no_answer_within_the_timeout_is_an_unknown_outcome(local: LocalPostmark) -> None:
    async def hang(_: SeenRequest) -> Response:
        await asyncio.sleep(1.0)
        return Response(status_code=500)

    local.sink.trouble = hang

    results = await local.send_all([outgoing_email(), outgoing_email()], local.channel(timeout=0.2))

    assert all(r.outcome is SendOutcome.TEMPORARY and r.unknown for r in results)


async def test_closing_sends_what_is_waiting(local: LocalPostmark) -> None:
    channel = local.channel()
    channel.window = 60.0  # nothing would go for a minute
    sending = asyncio.create_task(channel.send(outgoing_email()))
    await asyncio.sleep(0.05)

    await channel.close()

    assert (await sending).outcome is SendOutcome.SENT
    assert len(local.sink.accepted) == 1


async def test_a_message_that_cannot_be_read_is_refused_without_a_request(local: LocalPostmark) -> None:
    message = OutgoingMessage("<x@example.com>", "b@example.com", ("a@example.com",),
                              b"To: a@example.com\r\nSubject: no sender\r\n\r\nhello\r\n")

    [result] = await local.send_all([message])

    assert result.outcome is SendOutcome.PERMANENT and "no From" in result.detail
    assert local.sink.requests == []

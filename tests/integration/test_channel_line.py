"""The LINE channel against the local LINE server on loopback: what goes out (path, token, retry key,
body), what each answer means, and that a message is held once however often it is retried."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse, Response

from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.catalog import provider
from afterorder.channels.line import LineApiError, LineChannel, delivery_tag, issue_link_token, phone_hash
from afterorder.dev.sinks.base import SeenRequest
from afterorder.dev.sinks.line import DEV_TOKEN, LineSink, monthly_limit_answer, rate_limit_answer
from tests.loopback import loopback

FIXTURES = Path(__file__).parents[1] / "fixtures" / "line"
BUBBLE = json.loads((FIXTURES / "flex_bubble_brown_cafe.line-bot-sdk-go.json").read_text())
HANAKO = "U" + "4af4980629" * 3 + "ab"
HANAKO_PHONE = phone_hash("+818000001234")


def line_message(to: str = HANAKO, *, messages: list[dict[str, Any]] | None = None) -> OutgoingMessage:
    messages = messages or [{"type": "flex", "altText": "ご注文の商品を発送しました", "contents": BUBBLE}]
    return OutgoingMessage(f"<{uuid.uuid4().hex}@sakura-tea.example>", "", (to,),
                           json.dumps({"messages": messages}, ensure_ascii=False).encode(), ChannelKind.LINE,
                           template="shipping")


@dataclass
class Line:
    sink: LineSink
    url: str
    channel: LineChannel


@pytest.fixture
async def line() -> AsyncIterator[Line]:
    sink = LineSink()
    async with loopback(sink.app()) as url:
        channel = LineChannel(DEV_TOKEN, url, timeout=5)
        yield Line(sink, url, channel)
        await channel.close()


def once(answer: Callable[[], Response]) -> Callable[[SeenRequest], Response | None]:
    """Trouble for the first request only."""
    given: list[bool] = []

    def trouble(_: SeenRequest) -> Response | None:
        if given:
            return None
        given.append(True)
        return answer()

    return trouble


async def test_a_push_goes_out_with_the_token_the_retry_key_and_lines_body(line: Line) -> None:
    message = line_message()

    result = await line.channel.send(message)

    assert result.outcome is SendOutcome.SENT and result.code == 200
    [request] = line.sink.requests
    assert request.path == "/v2/bot/message/push"
    assert request.headers["authorization"] == f"Bearer {DEV_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-line-retry-key"] == message.retry_key
    assert json.loads(request.body) == {"to": HANAKO, "messages": json.loads(message.data)["messages"]}
    [held] = line.sink.accepted
    assert (held.to, held.key, held.payload[0]["altText"]) == (HANAKO, message.retry_key, "ご注文の商品を発送しました")
    assert result.provider_id == held.provider_id  # sentMessages[0].id


async def test_a_retry_of_an_accepted_message_is_sent_and_held_once(line: Line) -> None:
    message = line_message()

    first = await line.channel.send(message)
    again = await line.channel.send(message)

    assert first.outcome is SendOutcome.SENT and again.outcome is SendOutcome.SENT
    assert again.code == 409 and "already accepted" in again.detail
    assert again.provider_id == first.provider_id
    assert len(line.sink.accepted) == 1 and len(line.sink.requests) == 2


async def test_many_messages_each_sent_twice_at_once_are_each_held_once(line: Line) -> None:
    messages = [line_message() for _ in range(40)]

    results = await asyncio.gather(*(line.channel.send(m) for m in messages + messages))

    assert all(r.outcome is SendOutcome.SENT for r in results)
    assert sorted(r.code or 0 for r in results) == [200] * 40 + [409] * 40
    assert sorted(a.key or "" for a in line.sink.accepted) == sorted(m.retry_key for m in messages)


async def test_a_lost_answer_is_unknown_and_the_retry_with_the_same_key_ends_sent(line: Line) -> None:
    message = line_message()
    line.sink.stall = 1.0  # LINE takes the push, but its answer comes too late
    impatient = LineChannel(DEV_TOKEN, line.url, timeout=0.3)

    lost = await impatient.send(message)
    await impatient.close()
    line.sink.stall = 0.0
    retried = await line.channel.send(message)

    assert lost.outcome is SendOutcome.TEMPORARY and lost.unknown and lost.busy is None
    assert retried.outcome is SendOutcome.SENT and retried.code == 409
    assert len(line.sink.accepted) == 1
    assert {r.headers["x-line-retry-key"] for r in line.sink.requests} == {message.retry_key}


async def test_a_server_error_is_unknown_and_retried_with_the_same_key(line: Line) -> None:
    line.sink.trouble = once(lambda: JSONResponse({"message": "Internal Server Error"}, 500))
    message = line_message()

    failed = await line.channel.send(message)
    retried = await line.channel.send(message)

    assert failed.outcome is SendOutcome.TEMPORARY and failed.unknown and failed.code == 500
    assert retried.outcome is SendOutcome.SENT and retried.code == 200
    assert len(line.sink.accepted) == 1


async def test_the_monthly_limit_is_a_quota_not_a_failure(line: Line) -> None:
    line.sink.monthly_limit = 1

    first = await line.channel.send(line_message())
    over = await line.channel.send(line_message())

    assert first.outcome is SendOutcome.SENT
    assert over.outcome is SendOutcome.TEMPORARY and over.busy is Busy.QUOTA and over.code == 429
    assert "monthly limit" in over.detail
    assert len(line.sink.accepted) == 1


async def test_the_scripted_monthly_limit_answer_is_a_quota(line: Line) -> None:
    line.sink.trouble = lambda _: monthly_limit_answer()

    result = await line.channel.send(line_message())

    assert result.busy is Busy.QUOTA and not line.sink.accepted


async def test_a_rate_limit_is_throttled_after_lines_delay(line: Line) -> None:
    line.sink.trouble = once(lambda: rate_limit_answer(2))
    message = line_message()

    throttled = await line.channel.send(message)
    later = await line.channel.send(message)

    assert throttled.outcome is SendOutcome.TEMPORARY and throttled.busy is Busy.THROTTLED
    assert throttled.retry_after == 2.0 and not throttled.unknown
    assert later.outcome is SendOutcome.SENT and later.code == 200  # a 429 was not taken: no 409


@pytest.mark.parametrize("status", [400, 403])
async def test_a_refused_request_is_permanent_with_lines_reason(line: Line, status: int) -> None:
    body = {"message": "The request body has 1 error(s)",
            "details": [{"message": "May not be empty", "property": "messages[0].text"}]}
    line.sink.trouble = lambda _: JSONResponse(body, status)

    result = await line.channel.send(line_message())

    assert result.outcome is SendOutcome.PERMANENT and result.code == status
    assert "messages[0].text" in result.detail


async def test_a_wrong_channel_access_token_waits_for_the_operator(line: Line) -> None:
    channel = LineChannel("revoked-token", line.url, timeout=5)

    result = await channel.send(line_message())
    await channel.close()

    assert result.outcome is SendOutcome.TEMPORARY and result.code == 401 and not result.unknown
    assert "channel access token" in result.detail and not line.sink.accepted


async def test_a_payload_over_lines_limits_is_permanent_and_never_sent(line: Line) -> None:
    six = [{"type": "text", "text": f"{n}"} for n in range(6)]

    over = await line.channel.send(line_message(messages=six))
    long_alt = await line.channel.send(line_message(messages=[{"type": "flex", "altText": "a" * 1_501,
                                                                "contents": BUBBLE}]))

    assert over.outcome is SendOutcome.PERMANENT and "1 to 5 message objects" in over.detail
    assert long_alt.outcome is SendOutcome.PERMANENT and "altText: at most 1,500 characters" in long_alt.detail
    assert line.sink.requests == []


@pytest.mark.parametrize("data", [b"not json", b'{"message": []}'])
async def test_an_unreadable_payload_is_permanent(line: Line, data: bytes) -> None:
    message = OutgoingMessage("<x@y>", "", (HANAKO,), data, ChannelKind.LINE)

    result = await line.channel.send(message)

    assert result.outcome is SendOutcome.PERMANENT and "payload" in result.detail and not line.sink.requests


async def test_a_recipient_that_is_neither_a_user_nor_a_hashed_phone_is_permanent(line: Line) -> None:
    result = await line.channel.send(line_message("+818000001234"))

    assert result.outcome is SendOutcome.PERMANENT and "LINE user id" in result.detail and not line.sink.requests


async def test_a_notification_message_goes_to_pnp_with_the_hashed_phone_and_no_retry_key(line: Line) -> None:
    message = line_message(HANAKO_PHONE)

    result = await line.channel.send(message)

    assert result.outcome is SendOutcome.SENT and result.code == 200
    [request] = line.sink.requests
    assert request.path == "/bot/pnp/push"
    assert "x-line-retry-key" not in request.headers
    assert request.headers["x-line-delivery-tag"] == delivery_tag(message.message_id)
    assert json.loads(request.body)["to"] == HANAKO_PHONE
    assert result.provider_id == delivery_tag(message.message_id)  # what the delivery webhook echoes
    [held] = line.sink.accepted
    assert held.to == HANAKO_PHONE and line.sink.delivery_tags[held.provider_id] == result.provider_id


async def test_a_notification_message_to_a_number_without_line_is_permanent(line: Line) -> None:
    line.sink.pnp_refused.add(HANAKO_PHONE)

    result = await line.channel.send(line_message(HANAKO_PHONE))

    assert result.outcome is SendOutcome.PERMANENT and result.code == 422 and not line.sink.accepted


async def test_a_notification_message_with_an_image_is_refused_before_sending(line: Line) -> None:
    image = {"type": "image", "originalContentUrl": "https://x.jp/a.png", "previewImageUrl": "https://x.jp/b.png"}

    result = await line.channel.send(line_message(HANAKO_PHONE, messages=[image]))

    assert result.outcome is SendOutcome.PERMANENT and "no image" in result.detail and not line.sink.requests


async def test_a_link_token_is_issued_for_the_user(line: Line) -> None:
    fixture_keys = set(json.loads((FIXTURES / "issue_link_token_response.json").read_text()))

    async with httpx.AsyncClient() as client:
        token = await issue_link_token(client, line.url, DEV_TOKEN, HANAKO)
        answer = line.sink.requests[-1]

    assert line.sink.link_tokens[token] == HANAKO
    assert answer.path == f"/v2/bot/user/{HANAKO}/linkToken"
    assert fixture_keys == {"linkToken"}


@pytest.mark.parametrize(("token", "user", "status"), [("wrong", HANAKO, 401), (DEV_TOKEN, "hanako", 400)])
async def test_a_refused_link_token_raises_a_clear_error(line: Line, token: str, user: str, status: int) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(LineApiError) as raised:
            await issue_link_token(client, line.url, token, user)

    assert raised.value.status == status and "link token" in str(raised.value)
    assert not line.sink.link_tokens


async def test_a_link_token_without_line_says_so() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(LineApiError, match="no answer"):
            await issue_link_token(client, "http://127.0.0.1:9", DEV_TOKEN, HANAKO)


async def test_the_provider_builds_a_channel_from_the_stores_options(line: Line) -> None:
    spec = provider("line")
    options = spec.check({"channel_access_token": DEV_TOKEN, "channel_secret": "s", "api_base": line.url})

    async with httpx.AsyncClient() as client:
        channel = spec.build(options, client)
        result = await channel.send(line_message())

    assert result.outcome is SendOutcome.SENT and len(line.sink.accepted) == 1

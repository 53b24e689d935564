"""The SES channel against the local SES (dev/sinks/ses.py) on loopback: what SES receives, signed
as SES checks it, and what each of SES's answers means for the message."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from botocore.credentials import Credentials
from starlette.responses import Response

from afterorder.channels.base import Busy, RetryPolicy, SendOutcome, SendResult
from afterorder.channels.ses import SesChannel
from afterorder.dev.sinks import ses
from afterorder.dev.sinks.base import SeenRequest, Sink, throttled_for
from tests.loopback import loopback
from tests.mail_samples import outgoing_email

REGION = "ap-northeast-1"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass
class LocalSes:
    sink: Sink
    url: str

    def channel(self, secret: str = SECRET, *, session_token: str | None = None,
                configuration_set: str | None = None, timeout: float = 5.0) -> SesChannel:
        return SesChannel(region=REGION, credentials=Credentials(KEY_ID, secret, session_token),
                          configuration_set=configuration_set, api_base=self.url, timeout=timeout)


@pytest.fixture
async def local_ses() -> AsyncIterator[LocalSes]:
    sink = Sink()
    app = ses.app(sink, access_key_id=KEY_ID, secret_access_key=SECRET, region=REGION,
                  configuration_sets=frozenset({"afterorder-events"}))
    async with loopback(app) as url:
        yield LocalSes(sink, url)


async def send_one(local: LocalSes, channel: SesChannel | None = None) -> SendResult:
    channel = channel or local.channel()
    try:
        return await channel.send(outgoing_email())
    finally:
        await channel.close()


async def test_ses_takes_the_mime_exactly_as_built_and_its_message_id_is_kept(local_ses: LocalSes) -> None:
    channel = local_ses.channel()
    message = outgoing_email("taro@example.jp")

    result = await channel.send(message)
    await channel.close()

    assert result.outcome is SendOutcome.SENT
    [accepted] = local_ses.sink.accepted
    assert result.provider_id == accepted.provider_id and result.provider_id
    assert accepted.payload == message.data
    assert accepted.key == message.message_id
    assert accepted.to == "taro@example.jp"
    [request] = local_ses.sink.requests
    assert request.path == "/v2/email/outbound-emails"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={KEY_ID}/{request.headers['x-amz-date'][:8]}/{REGION}/ses/aws4_request")
    body = json.loads(request.body)
    assert body == {"Content": {"Raw": {"Data": base64.b64encode(message.data).decode()}},
                    "Destination": {"ToAddresses": ["taro@example.jp"]}}


async def test_a_configuration_set_is_named_in_the_request(local_ses: LocalSes) -> None:
    result = await send_one(local_ses, local_ses.channel(configuration_set="afterorder-events"))

    assert result.outcome is SendOutcome.SENT
    assert json.loads(local_ses.sink.requests[0].body)["ConfigurationSetName"] == "afterorder-events"


async def test_an_unknown_configuration_set_is_refused_for_good(local_ses: LocalSes) -> None:
    result = await send_one(local_ses, local_ses.channel(configuration_set="no-such-set"))

    assert result.outcome is SendOutcome.PERMANENT
    assert result.code == 404 and "NotFoundException" in result.detail
    assert local_ses.sink.accepted == []


async def test_temporary_credentials_carry_their_session_token() -> None:
    sink = Sink()
    app = ses.app(sink, access_key_id=KEY_ID, secret_access_key=SECRET, region=REGION, session_token="FwoGZXIvYXdz")
    async with loopback(app) as url:
        local = LocalSes(sink, url)
        with_token = await send_one(local, local.channel(session_token="FwoGZXIvYXdz"))
        without = await send_one(local)

    assert with_token.outcome is SendOutcome.SENT
    assert sink.requests[0].headers["x-amz-security-token"] == "FwoGZXIvYXdz"
    assert without.outcome is SendOutcome.TEMPORARY and "InvalidClientTokenId" in without.detail
    assert len(sink.accepted) == 1


async def test_a_wrong_secret_is_refused_by_ses_and_the_message_waits_for_the_operator(local_ses: LocalSes) -> None:
    result = await send_one(local_ses, local_ses.channel(secret="not-the-secret"))

    assert result.outcome is SendOutcome.TEMPORARY
    assert result.code == 403 and not result.unknown and result.busy is None
    assert "SignatureDoesNotMatch" in result.detail and "operator" in result.detail
    assert local_ses.sink.accepted == []


def answer(status: int, kind: str, message: str, retry_after: str | None = None) -> Response:
    response = ses.error(status, kind, message)
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


@pytest.mark.parametrize(("status", "kind", "message", "retry_after", "busy", "delay"), [
    (429, "TooManyRequestsException", "Maximum sending rate exceeded.", None, Busy.THROTTLED, 1.0),
    (429, "TooManyRequestsException", "Maximum sending rate exceeded.", "3", Busy.THROTTLED, 3.0),
    (400, "Throttling", "Maximum sending rate exceeded.", None, Busy.THROTTLED, 1.0),
    (400, "LimitExceededException", "Daily message quota exceeded.", None, Busy.QUOTA, 3600.0),
])
async def test_throttling_and_quota_are_a_delay(local_ses: LocalSes, status: int, kind: str, message: str,
                                                retry_after: str | None, busy: Busy, delay: float) -> None:
    local_ses.sink.trouble = lambda _: answer(status, kind, message, retry_after)

    result = await send_one(local_ses)

    assert (result.outcome, result.busy, result.retry_after) == (SendOutcome.TEMPORARY, busy, delay)
    assert kind in result.detail
    decision = RetryPolicy().decide(40, result)  # long past the attempt limit: busy is never a failure
    assert decision.retry and decision.delay_seconds == delay


@pytest.mark.parametrize("kind", ["SendingPausedException", "AccountSuspendedException"])
async def test_an_account_that_may_not_send_holds_the_message(local_ses: LocalSes, kind: str) -> None:
    local_ses.sink.trouble = lambda _: answer(400, kind, "The message can't be sent because of the account.")

    result = await send_one(local_ses)

    assert result.outcome is SendOutcome.TEMPORARY and result.busy is None and not result.unknown
    assert kind in result.detail and "operator must act" in result.detail


@pytest.mark.parametrize(("status", "kind"), [
    (400, "MessageRejected"), (400, "MailFromDomainNotVerifiedException"), (400, "BadRequestException"),
    (404, "NotFoundException"),
])
async def test_refusals_of_the_message_are_permanent(local_ses: LocalSes, status: int, kind: str) -> None:
    local_ses.sink.trouble = lambda _: answer(status, kind, "Email address is not verified.")

    result = await send_one(local_ses)

    assert (result.outcome, result.code) == (SendOutcome.PERMANENT, status)
    assert f"{kind}: Email address is not verified." in result.detail


async def test_a_server_error_may_have_been_taken(local_ses: LocalSes) -> None:
    local_ses.sink.trouble = lambda _: answer(500, "InternalFailure", "The request processing has failed.")

    result = await send_one(local_ses)

    assert result.outcome is SendOutcome.TEMPORARY and result.unknown and result.busy is None


async def test_no_answer_within_the_timeout_is_an_unknown_outcome(local_ses: LocalSes) -> None:
    async def hang(_: SeenRequest) -> Response:
        await asyncio.sleep(1.0)
        return Response(status_code=500)

    local_ses.sink.trouble = hang

    result = await send_one(local_ses, local_ses.channel(timeout=0.2))

    assert result.outcome is SendOutcome.TEMPORARY and result.unknown
    assert "no answer" in result.detail and local_ses.sink.accepted == []


async def test_after_a_spell_of_throttling_every_message_is_delivered(local_ses: LocalSes) -> None:
    local_ses.sink.trouble = throttled_for(0.4, 0.2, ses.throttled)
    channel = local_ses.channel()
    policy = RetryPolicy()

    async def deliver() -> int:
        message, attempt = outgoing_email(), 1
        while (result := await channel.send(message)).outcome is not SendOutcome.SENT:
            decision = policy.decide(attempt, result)
            assert decision.retry, result
            await asyncio.sleep(decision.delay_seconds)
            attempt += 1
        return attempt

    attempts = await asyncio.gather(*(deliver() for _ in range(5)))
    await channel.close()

    assert len(local_ses.sink.accepted) == 5
    assert max(attempts) > 1  # they were throttled, and none failed

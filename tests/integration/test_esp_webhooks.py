"""Bounce and complaint webhooks from SES (through SNS), SendGrid, Postmark and Mailgun, over the
ASGI app: the providers' published samples verified and normalised field by field, a hard bounce
suppressing the address, forged requests refused with nothing stored."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.clock import FrozenClock
from afterorder.db.schema import events, outbox, suppressions
from afterorder.db.stores import StoreRow
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event
from afterorder.feedback import sendgrid
from afterorder.feedback.base import WebhookRequest
from afterorder.feedback.credentials import set_credentials
from afterorder.feedback.receiver import EspReceiver
from afterorder.feedback.ses import SnsVerifier, sns_host_allowed
from afterorder.intake.errors import Unauthorized
from afterorder.keys.sealing import new_key
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.esp_signing import (
    MAILGUN_KEY,
    FakeSns,
    fake_sns,
    fixture,
    mailgun_body,
    sendgrid_headers,
)
from tests.factories import JP_STORE, add_store, order_event, running

POSTMARK_AUTH = ("postmark-hook", "correct horse battery staple")


@dataclass
class Setup:
    runtime: Runtime
    store: StoreRow
    http: httpx.AsyncClient
    sns: FakeSns


@pytest.fixture
async def setup(sqlite_url: str) -> AsyncIterator[Setup]:
    """A store with credentials for every provider (SQLite: the parsing is what these tests are about;
    storage on both databases is covered by the delivery test below and the intake's own tests)."""
    with fake_sns() as sns:
        async with running(sqlite_url, FrozenClock(T0)) as runtime:
            store, _ = await add_store(runtime)
            async with runtime.engine.begin() as conn:
                now = runtime.clock.now()
                await set_credentials(conn, store.id, "ses", now, sealer=runtime.sealer,
                                      topic_arn=["arn:aws:sns:us-west-2:123456789012:MyTopic"])
                await set_credentials(conn, store.id, "sendgrid", now, sealer=runtime.sealer,
                                      public_key=fixture("sendgrid_signed_vector.json")["public_key"])
                await set_credentials(conn, store.id, "postmark", now, sealer=runtime.sealer, username=POSTMARK_AUTH[0],
                                      password=POSTMARK_AUTH[1])
                await set_credentials(conn, store.id, "mailgun", now, sealer=runtime.sealer,
                                      signing_key=MAILGUN_KEY)
            receiver = EspReceiver(runtime.engine, runtime.intake, SnsVerifier(host_allowed=sns.allowed),
                                   lambda: runtime.sealer)
            app = create_app(runtime, esp=receiver)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                yield Setup(runtime, store, http, sns)


async def stored(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(events).order_by(events.c.id))).mappings()]


async def suppressed(runtime: Runtime) -> list[tuple[str | None, str, str]]:
    async with runtime.engine.connect() as conn:
        return [(r.address, r.reason, r.source) for r in await conn.execute(
            select(suppressions).order_by(suppressions.c.id))]


async def count(runtime: Runtime, table: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def sns_notification(setup: Setup, ses_event: dict[str, Any], version: str = "1") -> dict[str, Any]:
    envelope = {**fixture("sns_notification.json"), "Message": json.dumps(ses_event),
                "Subject": "Amazon SES Email Event Notification"}
    return setup.sns.sign(envelope, version)


async def post(setup: Setup, provider: str, body: Any, **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await setup.http.post(f"/webhooks/esp/{provider}/{setup.store.slug}", content=content, **kw)


async def sent_message(setup: Setup) -> dict[str, Any]:
    await setup.runtime.intake.ingest(setup.store, [Event.model_validate(
        order_event("order.placed", "B1", T0, email="jane@example.com"))])
    while await setup.runtime.scheduler.run_due():
        pass
    async with setup.runtime.engine.connect() as conn:
        return dict((await conn.execute(select(outbox))).mappings().one())


# ---- Amazon SES through SNS ------------------------------------------------------------------

async def test_ses_bounce_is_verified_normalised_and_suppresses(setup: Setup) -> None:
    message = sns_notification(setup, fixture("ses_bounce.json"), version="1")
    response = await post(setup, "ses", message, headers={"Content-Type": "text/plain; charset=UTF-8"})
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1, "duplicates": 0, "subscription_confirmed": False,
                               "statuses_updated": 0}
    [event] = await stored(setup.runtime)
    assert event["type"] == "message.bounced" and event["source"] == "esp:ses"
    assert event["occurred_at"] == datetime(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC)
    assert event["payload"]["properties"] == {
        "provider": "ses", "recipient": "jane@example.com", "bounce": "hard",
        "description": "Permanent General smtp; 550 5.1.1 <jane@example.com>... User",
        "message_id": "<custom-message-ID>"}
    assert event["payload"]["message"] is None, "custom-message-ID is none of ours"
    assert event["raw"] == message, "the SNS message is kept as it came"
    assert await suppressed(setup.runtime) == [("jane@example.com", "hard_bounce", "ses")]
    again = await post(setup, "ses", message)
    assert again.json()["duplicates"] == 1 and len(await stored(setup.runtime)) == 1


async def test_ses_complaint_signed_with_sha256_is_matched_to_our_message(setup: Setup) -> None:
    sent = await sent_message(setup)
    complaint = fixture("ses_complaint.json")
    complaint["complaint"]["complainedRecipients"] = [{"emailAddress": "jane@example.com"}]
    complaint["mail"]["commonHeaders"]["messageId"] = sent["message_id"]  # the sample, about a message we sent
    response = await post(setup, "ses", sns_notification(setup, complaint, version="2"))
    assert response.status_code == 200, response.text
    event = (await stored(setup.runtime))[-1]
    assert event["type"] == "message.complained"
    assert event["payload"]["message"]["outbox_id"] == sent["id"]
    assert event["payload"]["message"]["template"] == "order-confirmation"
    assert event["payload"]["properties"]["description"] == "abuse"
    assert event["customer_id"] == sent["customer_id"] and event["order_id"] == sent["order_id"]
    assert await suppressed(setup.runtime) == [("jane@example.com", "complaint", "ses")]


async def test_sns_subscription_is_confirmed_through_the_fetcher(setup: Setup) -> None:
    confirmation = fixture("sns_subscription_confirmation.json")
    confirmation["SubscribeURL"] = setup.sns.base + "/?Action=ConfirmSubscription&Token=" + confirmation["Token"][:16]
    response = await post(setup, "ses", setup.sns.sign(confirmation))
    assert response.status_code == 200 and response.json()["subscription_confirmed"] is True
    assert setup.sns.requests == ["/cert.pem", "/?Action=ConfirmSubscription&Token=" + confirmation["Token"][:16]]
    assert await stored(setup.runtime) == []


async def test_forged_sns_messages_get_401_and_nothing_is_stored(setup: Setup) -> None:
    message = sns_notification(setup, fixture("ses_bounce.json"))
    altered = {**message, "Message": message["Message"].replace("jane@example.com", "mary@example.com")}
    other_topic = setup.sns.sign({**message, "TopicArn": "arn:aws:sns:us-west-2:999999999999:Other"})
    unsigned = {k: v for k, v in message.items() if k != "Signature"}
    for forged in (altered, other_topic, unsigned, {**message, "SignatureVersion": "3"}):
        response = await post(setup, "ses", forged)
        assert response.status_code == 401, response.text
    assert await stored(setup.runtime) == [] and await suppressed(setup.runtime) == []


async def test_a_certificate_off_amazon_is_never_fetched(database_url: str) -> None:
    with fake_sns() as sns:
        async with running(database_url, FrozenClock(T0), secret_key=new_key()) as runtime:
            store, _ = await add_store(runtime)
            async with runtime.engine.begin() as conn:
                await set_credentials(conn, store.id, "ses", runtime.clock.now(), sealer=runtime.sealer)
            app = create_app(runtime)  # the real host check
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                message = sns.sign({**fixture("sns_notification.json"),
                                    "Message": json.dumps(fixture("ses_bounce.json"))})
                response = await http.post(f"/webhooks/esp/ses/{store.slug}", content=json.dumps(message))
            assert response.status_code == 401 and "amazonaws.com" in response.json()["message"]
            assert sns.requests == [] and await count(runtime, events) == 0


def test_the_sns_host_rule() -> None:
    assert sns_host_allowed("https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ec.pem")
    assert sns_host_allowed("https://sns.cn-north-1.amazonaws.com.cn/cert.pem")
    for bad in ("http://sns.us-west-2.amazonaws.com/c.pem", "https://sns.us-west-2.amazonaws.com.evil.example/c.pem",
                "https://evil.example/sns.us-west-2.amazonaws.com/c.pem", "https://sns.us-west-2.amazonaws.com:8443/c",
                "https://user@sns.us-west-2.amazonaws.com/c.pem", "https://s3.amazonaws.com/c.pem"):
        assert not sns_host_allowed(bad), bad


# ---- SendGrid ------------------------------------------------------------------------------

def test_sendgrids_published_test_vector_verifies() -> None:
    vector = fixture("sendgrid_signed_vector.json")
    settings = {"public_key": vector["public_key"]}
    headers = {sendgrid.SIGNATURE: vector["signature"], sendgrid.TIMESTAMP: vector["timestamp"]}
    sendgrid.verify(WebhookRequest(vector["payload"].encode(), headers), settings)
    with pytest.raises(Unauthorized):
        sendgrid.verify(WebhookRequest(vector["payload"].encode(), {**headers, sendgrid.TIMESTAMP: "1388788367"}),
                        settings)


async def test_sendgrid_bounce_and_spam_report_are_kept_the_rest_ignored(setup: Setup) -> None:
    body = json.dumps(fixture("sendgrid_events.json")).encode()
    response = await post(setup, "sendgrid", body, headers=sendgrid_headers(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 3, "duplicates": 1, "subscription_confirmed": False,
                               "statuses_updated": 0}, \
        "the sample's unsubscribe and group_unsubscribe share one sg_event_id: one event"
    bounce, spam, unsubscribe = await stored(setup.runtime)
    assert bounce["type"] == "message.bounced" and spam["type"] == "message.complained"
    assert bounce["occurred_at"] == datetime.fromtimestamp(1513299569, UTC)
    assert bounce["payload"]["properties"] == {
        "provider": "sendgrid", "recipient": "example@test.com", "bounce": "hard",
        "description": "5.0.0 500 unknown recipient", "message_id": "<14c5d75ce93.dfd.64b469@ismtpd-555>"}
    assert bounce["raw"]["event"] == "bounce" and spam["raw"]["event"] == "spamreport"
    assert unsubscribe["type"] == "message.unsubscribed"
    assert unsubscribe["payload"]["properties"]["bounce"] == "unsubscribe"
    assert await suppressed(setup.runtime) == [("example@test.com", "hard_bounce", "sendgrid"),
                                               ("example@test.com", "complaint", "sendgrid"),
                                               ("example@test.com", "unsubscribe", "sendgrid")]


async def test_sendgrid_forged_or_unsigned_gets_401(setup: Setup) -> None:
    body = json.dumps(fixture("sendgrid_events.json")).encode()
    headers = sendgrid_headers(body)
    tampered = body.replace(b"example@test.com", b"victim@test.com")
    assert (await post(setup, "sendgrid", tampered, headers=headers)).status_code == 401
    assert (await post(setup, "sendgrid", body)).status_code == 401
    assert (await post(setup, "sendgrid", body, headers={**headers, sendgrid.SIGNATURE.title(): "bm90IGRlcg=="}
                       )).status_code == 401
    assert await count(setup.runtime, events) == 0 and await suppressed(setup.runtime) == []


async def test_malformed_bodies_get_400_never_500(setup: Setup) -> None:
    too_long = json.dumps([{"event": "bounce", "email": "x" * 400 + "@b.example", "sg_event_id": "e",
                            "timestamp": 1}]).encode()
    for body in (b"not json", b'{"not": "a list"}', b'[{"event": "bounce", "email": "a@b.example"}]', b"[1]", too_long):
        response = await post(setup, "sendgrid", body, headers=sendgrid_headers(body))
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "malformed"
    mailgun = mailgun_body({"event": "failed", "severity": "permanent", "timestamp": "soon"})
    assert (await post(setup, "mailgun", mailgun)).status_code == 400
    assert (await post(setup, "ses", b"[]")).status_code == 400
    assert (await post(setup, "ses", setup.sns.sign({**fixture("sns_notification.json"), "Message": "{oops"})
                       )).status_code == 400
    assert (await setup.http.post("/webhooks/esp/sparkpost/kumo", content=b"{}")).status_code == 404
    assert (await setup.http.post("/webhooks/esp/sendgrid/nosuchstore", content=b"{}")).status_code == 404
    assert await count(setup.runtime, events) == 0


# ---- Postmark ------------------------------------------------------------------------------

async def test_postmark_bounce_and_spam_complaint_with_basic_auth(setup: Setup) -> None:
    for name in ("postmark_bounce.json", "postmark_spam_complaint.json"):
        response = await post(setup, "postmark", fixture(name), auth=POSTMARK_AUTH)
        assert response.status_code == 200, response.text
    bounce, complaint = await stored(setup.runtime)
    assert bounce["occurred_at"] == datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
    assert bounce["payload"]["properties"] == {
        "provider": "postmark", "recipient": "john@example.com", "bounce": "hard",
        "description": "HardBounce The server was unable to deliver your message "
                       "(ex: unknown user, mailbox not found).",
        "message_id": None}
    assert bounce["raw"] == fixture("postmark_bounce.json")
    assert complaint["type"] == "message.complained" and complaint["payload"]["properties"]["bounce"] == "complaint"
    assert await suppressed(setup.runtime) == [("john@example.com", "hard_bounce", "postmark"),
                                               ("john@example.com", "complaint", "postmark")]


async def test_postmark_without_the_right_credentials_gets_401(setup: Setup) -> None:
    body = fixture("postmark_bounce.json")
    assert (await post(setup, "postmark", body)).status_code == 401
    assert (await post(setup, "postmark", body, auth=(POSTMARK_AUTH[0], "wrong password!!"))).status_code == 401
    bad = {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()}
    assert (await post(setup, "postmark", body, headers=bad)).status_code == 401
    assert await count(setup.runtime, events) == 0


# ---- Mailgun -------------------------------------------------------------------------------

async def test_mailgun_permanent_temporary_and_complaint(setup: Setup) -> None:
    for name in ("mailgun_failed_permanent.json", "mailgun_failed_temporary.json", "mailgun_complained.json",
                 "mailgun_unsubscribed.json"):
        response = await post(setup, "mailgun", mailgun_body(fixture(name)))
        assert response.status_code == 200, response.text
    hard, soft, complaint, unsubscribe = await stored(setup.runtime)
    assert hard["payload"]["properties"] == {
        "provider": "mailgun", "recipient": "badrecipient@sample.mailgun.com", "bounce": "hard",
        "description": "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
                       "[BN3PEPF0000B36D.namprd21.prod.outlook.com 2026-02-12T17:42:55.527Z 08DE657A58651558] bounce",
        "message_id": "<20260212174255.58bbb7ce85a423e5@mailgun.com>"}
    assert hard["occurred_at"] == datetime.fromtimestamp(1770918175.5923693, UTC)
    assert soft["payload"]["properties"]["bounce"] == "soft", "a temporary failure is recorded"
    assert complaint["type"] == "message.complained"
    assert unsubscribe["type"] == "message.unsubscribed"
    assert await suppressed(setup.runtime) == [("badrecipient@sample.mailgun.com", "hard_bounce", "mailgun"),
                                               ("recipient@sample.mailgun.com", "complaint", "mailgun"),
                                               ("recipient@sample.mailgun.com", "unsubscribe", "mailgun")], \
        "the soft bounce suppresses nothing"


async def test_mailgun_signed_with_another_key_gets_401(setup: Setup) -> None:
    forged = mailgun_body(fixture("mailgun_failed_permanent.json"), key="key-not-this-stores-key-0000")
    assert (await post(setup, "mailgun", forged)).status_code == 401
    unsigned = {"event-data": fixture("mailgun_failed_permanent.json")}
    assert (await post(setup, "mailgun", unsigned)).status_code == 401
    assert await count(setup.runtime, events) == 0


# ---- delivery events: the provider's status on our message ----------------------------------
# No delivery sample of SES's or Postmark's own is among the fixtures: these bodies are built from
# their field references (SES "Amazon SNS notification contents", Postmark "Delivery webhook").

async def two_messages(setup: Setup) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two messages the scheduler wrote; the second as if the provider's API had answered "provider-id-2"."""
    await setup.runtime.intake.ingest(setup.store, [Event.model_validate(
        order_event("order.placed", order, T0, email=f"{order.lower()}@example.com")) for order in ("D1", "D2")])
    while await setup.runtime.scheduler.run_due():
        pass
    async with setup.runtime.engine.begin() as conn:
        first, second = [dict(r) for r in (await conn.execute(select(outbox).order_by(outbox.c.id))).mappings()]
        await conn.execute(outbox.update().where(outbox.c.id == second["id"]).values(
            provider_message_id="provider-id-2"))
    return first, second


async def statuses(setup: Setup) -> list[tuple[str | None, str | None]]:
    async with setup.runtime.engine.connect() as conn:
        return [(r.provider_status, r.provider_status_detail) for r in await conn.execute(
            select(outbox).order_by(outbox.c.id))]


def ses_delivery(message_id: str | None, ses_id: str) -> dict[str, Any]:
    mail: dict[str, Any] = {"timestamp": "2026-11-22T01:00:00.000Z", "source": "shop@kumo.example",
                            "messageId": ses_id, "destination": ["d1@example.com"]}
    if message_id:
        mail["commonHeaders"] = {"messageId": message_id, "subject": "ご注文ありがとうございます"}
    return {"notificationType": "Delivery", "mail": mail, "delivery": {
        "timestamp": "2026-11-22T01:00:01.546Z", "processingTimeMillis": 546, "recipients": ["d1@example.com"],
        "smtpResponse": "250 ok: Message 64111812 accepted", "reportingMTA": "a8-70.smtp-out.amazonses.com"}}


async def test_ses_delivery_marks_the_message_delivered(setup: Setup) -> None:
    first, _ = await two_messages(setup)
    answer = await post(setup, "ses", sns_notification(setup, ses_delivery(first["message_id"], "0100-unknown")))
    assert answer.status_code == 200 and answer.json()["statuses_updated"] == 1, answer.text
    await post(setup, "ses", sns_notification(setup, ses_delivery(None, "provider-id-2")))
    assert await statuses(setup) == [("delivered", "250 ok: Message 64111812 accepted")] * 2
    assert [e["type"] for e in await stored(setup.runtime)] == ["order.placed"] * 2, \
        "a delivery is a status on the message, not an event"
    assert (await post(setup, "ses", sns_notification(setup, {"notificationType": "Delivery", "mail": {}})
                       )).status_code == 400


async def test_sendgrid_delivered_events_find_their_messages(setup: Setup) -> None:
    first, _ = await two_messages(setup)
    delivered = {"email": "d1@example.com", "timestamp": 1513299569, "event": "delivered", "response": "250 OK",
                 "sg_event_id": "sg_event_id", "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>"}
    body = json.dumps([
        {**delivered, "sg_message_id": "14c5d75ce93.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
         "afterorder_message_id": first["message_id"]},
        {**delivered, "sg_message_id": "provider-id-2.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0"},
    ]).encode()
    answer = await post(setup, "sendgrid", body, headers=sendgrid_headers(body))
    assert answer.status_code == 200 and answer.json()["statuses_updated"] == 2, answer.text
    assert await statuses(setup) == [("delivered", "250 OK")] * 2


async def test_postmark_delivery_finds_its_message_by_postmarks_id(setup: Setup) -> None:
    await two_messages(setup)
    delivery = {"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound", "MessageID": "provider-id-2",
                "Recipient": "d2@example.com", "Tag": "", "DeliveredAt": "2026-11-22T01:00:02.0000000Z",
                "Details": "Test delivery webhook details", "Metadata": {}}
    answer = await post(setup, "postmark", delivery, auth=POSTMARK_AUTH)
    assert answer.status_code == 200 and answer.json()["statuses_updated"] == 1, answer.text
    assert await statuses(setup) == [(None, None), ("delivered", "Test delivery webhook details")]
    assert (await post(setup, "postmark", {**delivery, "MessageID": None}, auth=POSTMARK_AUTH)).status_code == 400


# ---- suppression at delivery ---------------------------------------------------------------

async def test_a_hard_bounced_address_is_not_mailed_again(database_url: str, smtp_server: DevSmtpServer) -> None:
    async with running(database_url, FrozenClock(T0), secret_key=new_key()) as runtime:
        store, _ = await add_store(runtime, JP_STORE)
        async with runtime.engine.begin() as conn:
            await set_credentials(conn, store.id, "mailgun", runtime.clock.now(), sealer=runtime.sealer,
                                  signing_key=MAILGUN_KEY)
        app = create_app(runtime)
        failed = {**fixture("mailgun_failed_permanent.json"), "recipient": "Gone@Example.com"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.post(f"/webhooks/esp/mailgun/{store.slug}", json=mailgun_body(failed))
        assert response.status_code == 200
        await runtime.intake.ingest(store, [
            Event.model_validate(order_event("order.placed", "G1", T0, email="gone@example.com")),
            Event.model_validate(order_event("order.placed", "G2", T0, email="here@example.com"))])
        while await runtime.scheduler.run_due():
            pass
        channel = SmtpChannel.from_url(smtp_server.url)
        try:
            await Delivery(runtime.engine, channel, runtime.clock, RetryPolicy(),
                           DeliverySettings(worker_id="test")).run_due()
        finally:
            await channel.close()
        async with runtime.engine.connect() as conn:
            rows = {r.recipient: r for r in await conn.execute(select(outbox))}
        assert rows["gone@example.com"].status == "skipped"
        assert rows["gone@example.com"].last_error == "address suppressed (hard_bounce)"
        assert rows["here@example.com"].status == "sent"
        assert smtp_server.inbox.count() == 1
        assert smtp_server.inbox.message_ids() == [rows["here@example.com"].message_id]

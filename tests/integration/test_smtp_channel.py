"""SmtpChannel against the real development SMTP server on loopback."""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from afterorder.channels import OutgoingMessage, SendOutcome, SmtpChannel
from afterorder.dev.inbox import DevInbox
from afterorder.dev.smtp_server import DevSmtpServer, start_dev_smtp

JAPANESE_SUBJECT = "【ご注文ありがとうございます】ご注文番号 #1001 の確認"
CHINESE_SUBJECT = "感谢您的订购 — 订单 #1001 已确认"


def make_email(
    subject: str = JAPANESE_SUBJECT, to: str = "hanako@example.jp", body: str = "山田花子様"
) -> OutgoingMessage:
    message = EmailMessage()
    message["From"] = "Sakura Tea <shop@sakura-tea.example>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="sakura-tea.example")
    message.set_content(f"{body}\nご注文ありがとうございます。")
    message.add_alternative(
        f"<html><body><p>{body}</p><p>ご注文ありがとうございます。</p></body></html>", subtype="html"
    )
    return OutgoingMessage(
        message_id=str(message["Message-ID"]),
        envelope_from="bounces@sakura-tea.example",
        recipients=(to,),
        data=message.as_bytes(policy=email.policy.SMTP),
    )


@pytest.fixture
async def dev_smtp() -> AsyncIterator[DevSmtpServer]:
    server = await start_dev_smtp()
    yield server
    await server.close()


@pytest.fixture
async def channel(dev_smtp: DevSmtpServer) -> AsyncIterator[SmtpChannel]:
    smtp = SmtpChannel.from_url(f"{dev_smtp.url}?pool=2&timeout=5", local_hostname="worker.test")
    yield smtp
    await smtp.close()


@pytest.mark.parametrize("subject", [JAPANESE_SUBJECT, CHINESE_SUBJECT])
async def test_message_arrives_and_reads_back_decoded(
    channel: SmtpChannel, dev_smtp: DevSmtpServer, subject: str
) -> None:
    outgoing = make_email(subject=subject)

    result = await channel.send(outgoing)

    assert result.outcome is SendOutcome.SENT
    assert result.code == 250
    [mail] = await dev_smtp.inbox.wait_for(1, timeout=5)
    assert mail.subject == subject
    assert mail.message_id == outgoing.message_id
    assert dev_smtp.inbox.message_ids() == [outgoing.message_id]
    assert mail.envelope_from == "bounces@sakura-tea.example"
    assert mail.recipients == ("hanako@example.jp",)
    assert mail.html is not None and "<p>山田花子様</p>" in mail.html
    assert mail.text is not None and "ご注文ありがとうございます。" in mail.text
    assert ("Subject", subject) in mail.headers
    assert mail.raw == outgoing.data
    assert dev_smtp.inbox.get(mail.id) == mail


async def test_connections_are_reused_up_to_the_pool_size(
    channel: SmtpChannel, dev_smtp: DevSmtpServer
) -> None:
    emails = [make_email(to=f"customer{i}@example.jp") for i in range(12)]

    results = await asyncio.gather(*(channel.send(e) for e in emails))
    for e in emails[:4]:
        assert (await channel.send(e)).outcome is SendOutcome.SENT

    assert [r.outcome for r in results] == [SendOutcome.SENT] * 12
    assert dev_smtp.inbox.count() == 16
    assert set(dev_smtp.inbox.message_ids()) == {e.message_id for e in emails}
    assert 1 <= dev_smtp.connections_opened <= 2


async def test_server_down_is_temporary(channel: SmtpChannel, dev_smtp: DevSmtpServer) -> None:
    assert (await channel.send(make_email())).outcome is SendOutcome.SENT  # leaves a pooled connection
    await dev_smtp.stop_listening()

    pooled = await channel.send(make_email())
    refused = await channel.send(make_email())

    assert pooled.outcome is SendOutcome.TEMPORARY
    assert refused.outcome is SendOutcome.TEMPORARY
    assert refused.code is None
    assert dev_smtp.inbox.count() == 1


async def test_unreachable_from_the_start_is_temporary(dev_smtp: DevSmtpServer) -> None:
    await dev_smtp.stop_listening()
    smtp = SmtpChannel(host=dev_smtp.host, port=dev_smtp.port, timeout=2, local_hostname="worker.test")

    result = await smtp.send(make_email())
    await smtp.close()

    assert result.outcome is SendOutcome.TEMPORARY
    assert result.code is None
    assert result.detail


async def test_server_back_up_after_being_down_delivers(
    channel: SmtpChannel, dev_smtp: DevSmtpServer
) -> None:
    port = dev_smtp.port
    assert (await channel.send(make_email())).outcome is SendOutcome.SENT
    await dev_smtp.stop_listening()
    assert (await channel.send(make_email())).outcome is SendOutcome.TEMPORARY

    await dev_smtp.start_listening()
    again = make_email()
    result = await channel.send(again)

    assert dev_smtp.port == port
    assert result.outcome is SendOutcome.SENT
    assert dev_smtp.inbox.all()[0].message_id == again.message_id


@pytest.mark.parametrize(
    ("stage", "code", "outcome", "text"),
    [
        ("RCPT", 451, SendOutcome.TEMPORARY, "try later"),
        ("RCPT", 550, SendOutcome.PERMANENT, "no such user"),
        ("MAIL", 451, SendOutcome.TEMPORARY, "try later"),
        ("MAIL", 553, SendOutcome.PERMANENT, "not allowed"),
        ("DATA", 451, SendOutcome.TEMPORARY, "try later"),
        ("DATA", 554, SendOutcome.PERMANENT, "rejected"),
    ],
)
async def test_refusals_are_classified_by_reply_code(
    channel: SmtpChannel,
    dev_smtp: DevSmtpServer,
    stage: str,
    code: int,
    outcome: SendOutcome,
    text: str,
) -> None:
    dev_smtp.fail_at = stage  # type: ignore[assignment]
    dev_smtp.fail_with = code

    result = await channel.send(make_email())

    assert result.outcome is outcome
    assert result.code == code
    assert text in result.detail
    assert dev_smtp.inbox.count() == 0


async def test_connection_survives_a_refusal(channel: SmtpChannel, dev_smtp: DevSmtpServer) -> None:
    dev_smtp.fail_with = 451
    assert (await channel.send(make_email())).outcome is SendOutcome.TEMPORARY

    dev_smtp.fail_with = None
    result = await channel.send(make_email())

    assert result.outcome is SendOutcome.SENT
    assert dev_smtp.connections_opened == 1


async def test_inbox_keeps_only_the_newest(dev_smtp: DevSmtpServer) -> None:
    dev_smtp.inbox = DevInbox(capacity=2)
    smtp = SmtpChannel(host=dev_smtp.host, port=dev_smtp.port, pool=1, local_hostname="worker.test")
    emails = [make_email(subject=f"注文 {i}") for i in range(3)]
    for e in emails:
        await smtp.send(e)
    await smtp.close()

    mails = dev_smtp.inbox.all()
    assert [m.subject for m in mails] == ["注文 2", "注文 1"]
    assert [m.id for m in mails] == [3, 2]
    assert dev_smtp.inbox.get(1) is None


async def test_wait_for_times_out(dev_smtp: DevSmtpServer) -> None:
    with pytest.raises(TimeoutError):
        await dev_smtp.inbox.wait_for(1, timeout=0.05)


def test_from_url_reads_every_option() -> None:
    smtp = SmtpChannel.from_url(
        "smtp://shop%40example.jp:p%40ss%2Fw@mail.example:2525?starttls=1&timeout=7&pool=3"
    )

    assert (smtp.host, smtp.port, smtp.username) == ("mail.example", 2525, "shop@example.jp")
    assert (smtp.starttls, smtp.use_tls, smtp.timeout, smtp.pool) == (True, False, 7.0, 3)


def test_from_url_defaults_ports_by_scheme() -> None:
    assert SmtpChannel.from_url("smtp://localhost").port == 25
    assert SmtpChannel.from_url("smtp://localhost?starttls=1").port == 587
    secure = SmtpChannel.from_url("smtps://localhost")
    assert (secure.port, secure.use_tls, secure.starttls, secure.pool) == (465, True, False, 4)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost",
        "smtp://",
        "smtp://localhost?starttls=maybe",
        "smtp://localhost?pool=0",
        "smtp://localhost?tsl=1",
        "smtps://localhost?starttls=1",
    ],
)
def test_from_url_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        SmtpChannel.from_url(url)

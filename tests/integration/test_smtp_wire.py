"""SmtpChannel's own wire protocol: pipelining, body transparency, recovery after refusals, AUTH LOGIN.

aiosmtpd (the dev server) does not offer PIPELINING, so a small scripted server below stands in where
how the commands arrive matters.  STARTTLS, AUTH PLAIN and SMTPS are in test_smtp_tls.py.
"""

from __future__ import annotations

import asyncio
import base64
import email.policy
from collections.abc import AsyncIterator, Iterable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from afterorder.channels import OutgoingMessage, SendOutcome, SmtpChannel
from afterorder.dev.smtp_server import DevSmtpServer, start_dev_smtp

SENDER = "bounces@sakura-tea.example"


def make_email(
    *recipients: str, text: str = "山田花子様\nご注文ありがとうございます。", cte: str = "base64"
) -> OutgoingMessage:
    message = EmailMessage()
    message["From"] = "Sakura Tea <shop@sakura-tea.example>"
    message["To"] = ", ".join(recipients or ("hanako@example.jp",))
    message["Subject"] = "【ご注文ありがとうございます】"
    message["Message-ID"] = make_msgid(domain="sakura-tea.example")
    message.set_content(text, cte=cte)
    return OutgoingMessage(
        message_id=str(message["Message-ID"]),
        envelope_from=SENDER,
        recipients=recipients or ("hanako@example.jp",),
        data=message.as_bytes(policy=email.policy.SMTP),
    )


class ScriptedSmtp:
    """A minimal SMTP server that records every command and how the envelope commands arrived.

    With ``hold_envelope`` it answers MAIL / RCPT only once DATA has arrived too, which a client that
    waits for each reply never gets to: only a pipelining client can deliver to it.
    """

    def __init__(self, extensions: Iterable[str] = ("PIPELINING", "8BITMIME"), *, hold_envelope: bool = False):
        self.extensions = list(extensions)
        self.hold_envelope = hold_envelope
        self.refuse_mail: str | None = None  # a reply line for every MAIL
        self.refuse_rcpt: dict[str, str] = {}  # address → reply line
        self.password = "s3cret"
        self.commands: list[str] = []
        self.envelopes: list[list[str]] = []  # commands answered together, in hold mode
        self.messages: list[tuple[str, tuple[str, ...], bytes]] = []  # data as on the wire, dot-stuffed
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def channel(self, **options: Any) -> SmtpChannel:
        return SmtpChannel(host="127.0.0.1", port=self.port, timeout=3, local_hostname="worker.test", **options)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        sender: str | None = None
        rcpts: list[str] = []
        held: list[str] = []
        replies: list[str] = []
        writer.write(b"220 scripted ESMTP\r\n")
        try:
            while line := await reader.readline():
                command = line.decode().rstrip("\r\n")
                self.commands.append(command)
                verb, _, arg = command.partition(" ")
                verb = verb.upper()
                reply = "250 2.0.0 OK"
                if verb == "EHLO":
                    reply = "\r\n".join(f"250-{e}" for e in ["scripted", *self.extensions]) + "\r\n250 HELP"
                elif verb == "AUTH":
                    reply = await self._auth(arg, reader, writer)
                elif verb == "MAIL":
                    reply = self.refuse_mail or reply
                    sender = None if self.refuse_mail else arg.split(">")[0].removeprefix("FROM:<")
                elif verb == "RCPT":
                    address = arg.split(">")[0].removeprefix("TO:<")
                    reply = "503 5.5.1 need MAIL" if sender is None else self.refuse_rcpt.get(address, reply)
                    if reply.startswith("2"):
                        rcpts.append(address)
                elif verb == "DATA":
                    reply = "354 go ahead" if sender and rcpts else "554 5.5.1 no valid recipients"
                elif verb in ("RSET", "NOOP"):
                    sender, rcpts = None, []
                elif verb == "QUIT":
                    reply = "221 bye"
                else:
                    reply = "500 5.5.2 unknown command"
                if self.hold_envelope and verb in ("MAIL", "RCPT", "DATA"):
                    held.append(command)
                    replies.append(reply)
                    if verb != "DATA" and not reply.startswith("421"):
                        continue
                    self.envelopes.append(held)
                    reply, held, replies = "\r\n".join(replies), [], []
                writer.write(reply.encode() + b"\r\n")
                if reply.startswith("221") or reply.split("\r\n")[-1].startswith("421"):
                    break
                if reply.endswith("354 go ahead"):
                    data = await reader.readuntil(b"\r\n.\r\n")
                    self.messages.append((sender or "", tuple(rcpts), data))
                    sender, rcpts = None, []
                    writer.write(f"250 2.0.0 queued as {len(self.messages)}\r\n".encode())
        finally:
            writer.close()

    async def _auth(self, arg: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() == "PLAIN":
            _, user, password = base64.b64decode(initial).split(b"\0")
        else:
            answers = []
            for challenge in (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"):
                writer.write(b"334 " + challenge + b"\r\n")
                answers.append(base64.b64decode(await reader.readline()))
            user, password = answers
        self.commands.append(f"(credentials {user.decode()})")
        ok = password.decode() == self.password
        return "235 2.7.0 authenticated" if ok else "535 5.7.8 bad credentials"


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedSmtp]:
    server = ScriptedSmtp(hold_envelope=True)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def dev_smtp() -> AsyncIterator[DevSmtpServer]:
    server = await start_dev_smtp()
    yield server
    await server.close()


async def test_envelope_goes_in_one_write_when_the_server_offers_pipelining(scripted: ScriptedSmtp) -> None:
    channel = scripted.channel()
    outgoing = make_email("hanako@example.jp", "taro@example.jp")

    first = await channel.send(outgoing)
    second = await channel.send(make_email())
    await channel.close()

    assert (first.outcome, first.code, second.outcome) == (SendOutcome.SENT, 250, SendOutcome.SENT)
    assert "queued as 1" in first.detail
    assert scripted.envelopes[0] == [
        f"MAIL FROM:<{SENDER}>",
        "RCPT TO:<hanako@example.jp>",
        "RCPT TO:<taro@example.jp>",
        "DATA",
    ]
    assert scripted.messages[0] == (SENDER, ("hanako@example.jp", "taro@example.jp"), outgoing.data + b".\r\n")
    assert scripted.connections == 1
    assert scripted.commands[-1] == "QUIT"


async def test_a_refused_recipient_leaves_the_connection_ready_for_the_next_message(scripted: ScriptedSmtp) -> None:
    scripted.refuse_rcpt["nobody@example.jp"] = "550 5.1.1 no such user"
    channel = scripted.channel()

    refused = await channel.send(make_email("nobody@example.jp"))
    sent = await channel.send(make_email("hanako@example.jp"))
    await channel.close()

    assert (refused.outcome, refused.code) == (SendOutcome.PERMANENT, 550)
    assert "no such user" in refused.detail
    assert sent.outcome is SendOutcome.SENT
    assert [rcpts for _, rcpts, _ in scripted.messages] == [("hanako@example.jp",)]
    assert scripted.commands[scripted.commands.index("DATA") + 1] == "RSET"  # the 554 to DATA: no body sent
    assert scripted.connections == 1


async def test_a_refused_recipient_over_a_server_without_pipelining(dev_smtp: DevSmtpServer) -> None:
    channel = SmtpChannel.from_url(f"{dev_smtp.url}?timeout=5", local_hostname="worker.test")
    dev_smtp.fail_at, dev_smtp.fail_with = "RCPT", 550
    refused = await channel.send(make_email())
    dev_smtp.fail_with = None
    sent = await channel.send(make_email())
    await channel.close()

    assert (refused.outcome, refused.code) == (SendOutcome.PERMANENT, 550)
    assert sent.outcome is SendOutcome.SENT
    assert dev_smtp.inbox.count() == 1
    assert dev_smtp.connections_opened == 1


async def test_some_recipients_refused_is_sent_with_the_refusals_listed(scripted: ScriptedSmtp) -> None:
    scripted.refuse_rcpt["nobody@example.jp"] = "550 5.1.1 no such user"
    channel = scripted.channel()

    result = await channel.send(make_email("hanako@example.jp", "nobody@example.jp"))
    await channel.close()

    assert (result.outcome, result.code) == (SendOutcome.SENT, 250)
    assert "refused: nobody@example.jp: 550 5.1.1 no such user" in result.detail
    assert [rcpts for _, rcpts, _ in scripted.messages] == [("hanako@example.jp",)]


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("553 5.1.3 mailbox name not allowed", SendOutcome.PERMANENT), ("451 4.3.0 try later", SendOutcome.TEMPORARY)],
)
async def test_a_refused_sender_is_classified_and_the_connection_kept(
    scripted: ScriptedSmtp, reply: str, outcome: SendOutcome
) -> None:
    scripted.refuse_mail = reply
    channel = scripted.channel()
    refused = await channel.send(make_email())
    scripted.refuse_mail = None
    sent = await channel.send(make_email())
    await channel.close()

    assert (refused.outcome, refused.code, refused.detail) == (outcome, int(reply[:3]), reply[4:])
    assert sent.outcome is SendOutcome.SENT
    assert scripted.connections == 1


async def test_421_drops_the_connection(scripted: ScriptedSmtp) -> None:
    scripted.refuse_rcpt["busy@example.jp"] = "421 4.3.2 closing"
    channel = scripted.channel()

    closing = await channel.send(make_email("busy@example.jp"))
    sent = await channel.send(make_email())
    await channel.close()

    assert (closing.outcome, closing.code) == (SendOutcome.TEMPORARY, 421)
    assert sent.outcome is SendOutcome.SENT
    assert scripted.connections == 2


async def test_lines_starting_with_a_dot_arrive_intact(dev_smtp: DevSmtpServer, scripted: ScriptedSmtp) -> None:
    text = ".\n.hidden line\n..two dots\nend.\n"
    outgoing = make_email(text=text, cte="7bit")
    assert b"\r\n.\r\n" in outgoing.data  # unstuffed, this line would end the message early

    to_dev = SmtpChannel.from_url(dev_smtp.url, local_hostname="worker.test")
    to_scripted = scripted.channel()
    results = [await to_dev.send(outgoing), await to_scripted.send(outgoing)]
    await to_dev.close()
    await to_scripted.close()

    assert [r.outcome for r in results] == [SendOutcome.SENT] * 2
    [mail] = dev_smtp.inbox.all()
    assert mail.raw == outgoing.data
    assert mail.text is not None and mail.text.replace("\r\n", "\n") == text
    wire = scripted.messages[0][2]
    assert b"\r\n..\r\n..hidden line\r\n...two dots\r\nend.\r\n.\r\n" in wire


async def test_bare_line_feeds_are_sent_as_crlf(dev_smtp: DevSmtpServer) -> None:
    data = (
        b"From: shop@sakura-tea.example\nTo: hanako@example.jp\nSubject: plain\n"
        b"Message-ID: <bare-lf@sakura-tea.example>\n\nfirst line\n.dotted\r\nlast line without newline"
    )
    outgoing = OutgoingMessage("<bare-lf@sakura-tea.example>", SENDER, ("hanako@example.jp",), data)
    channel = SmtpChannel.from_url(dev_smtp.url, local_hostname="worker.test")

    result = await channel.send(outgoing)
    await channel.close()

    assert result.outcome is SendOutcome.SENT
    [mail] = dev_smtp.inbox.all()
    assert mail.raw == data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n"
    assert (mail.subject, mail.message_id) == ("plain", "<bare-lf@sakura-tea.example>")
    assert mail.text is not None
    assert mail.text.splitlines() == ["first line", ".dotted", "last line without newline"]


async def test_non_ascii_addresses_need_smtputf8(dev_smtp: DevSmtpServer, scripted: ScriptedSmtp) -> None:
    outgoing = make_email("花子@example.jp")
    to_dev = SmtpChannel.from_url(dev_smtp.url, local_hostname="worker.test")
    to_scripted = scripted.channel()

    accepted = await to_dev.send(outgoing)
    unsupported = await to_scripted.send(outgoing)
    after = await to_scripted.send(make_email())
    await to_dev.close()
    await to_scripted.close()

    assert accepted.outcome is SendOutcome.SENT
    assert dev_smtp.inbox.all()[0].recipients == ("花子@example.jp",)
    assert (unsupported.outcome, unsupported.code) == (SendOutcome.PERMANENT, None)
    assert "SMTPUTF8" in unsupported.detail
    assert after.outcome is SendOutcome.SENT and scripted.connections == 1


async def test_idle_connections_are_checked_with_noop_before_reuse(scripted: ScriptedSmtp) -> None:
    channel = scripted.channel(ping_after_idle_seconds=0)

    results = [await channel.send(make_email()), await channel.send(make_email())]
    await channel.close()

    assert [r.outcome for r in results] == [SendOutcome.SENT] * 2
    assert scripted.commands.count("NOOP") == 1
    assert scripted.connections == 1


async def test_auth_login_when_plain_is_not_offered() -> None:
    server = ScriptedSmtp(["PIPELINING", "AUTH LOGIN"])
    await server.start()
    good = server.channel(username="shop@example.jp", password="s3cret")
    bad = server.channel(username="shop@example.jp", password="wrong")

    sent, refused = await good.send(make_email()), await bad.send(make_email())
    await good.close()
    await bad.close()
    await server.close()

    assert sent.outcome is SendOutcome.SENT
    assert (refused.outcome, refused.code) == (SendOutcome.TEMPORARY, 535)
    assert "AUTH LOGIN" in server.commands and "(credentials shop@example.jp)" in server.commands


async def test_starttls_required_but_not_offered_is_temporary(dev_smtp: DevSmtpServer) -> None:
    channel = SmtpChannel.from_url(f"{dev_smtp.url}?starttls=1", local_hostname="worker.test")

    result = await channel.send(make_email())
    await channel.close()

    assert (result.outcome, result.code) == (SendOutcome.TEMPORARY, None)
    assert "STARTTLS" in result.detail
    assert dev_smtp.inbox.count() == 0

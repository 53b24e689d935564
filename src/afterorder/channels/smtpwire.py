"""The SMTP client conversation on asyncio streams: one connection, one mail transaction at a time.

Lean on purpose, because delivery throughput is bounded by the CPU spent per message:

* when the server offers PIPELINING (RFC 2920), ``MAIL``, every ``RCPT`` and ``DATA`` leave in one
  write and their replies are read in order, so a message costs two round trips instead of 3 + n;
* the body from our MIME builder is already CRLF-terminated and seldom has a line starting with a dot:
  cheap byte counts decide whether it needs normalising or dot-stuffing, so it usually goes out as is;
* addresses are plain ``local@domain`` strings: no address parsing.

This module reports what the server answered; what an answer means for delivery is decided in
:mod:`afterorder.channels.smtp`.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass


class SmtpError(Exception):
    """The conversation with the server failed outside the replies to one message's transaction."""


class SmtpConnectError(SmtpError):
    """The server could not be reached."""


class SmtpDisconnectedError(SmtpError):
    """The server closed the connection."""


class SmtpTimeoutError(SmtpError):
    """No complete reply came within the timeout."""


class SmtpProtocolError(SmtpError):
    """The server sent something that is not an SMTP reply."""


class SmtpNotSupportedError(SmtpError):
    """The server lacks an extension the session needs (STARTTLS, AUTH)."""


class SmtpUnsendableError(SmtpError):
    """This message cannot go over this connection; nothing was written and the connection is still good."""


class SmtpReplyError(SmtpError):
    """The server refused a session command (greeting, EHLO / HELO, STARTTLS, AUTH, NOOP)."""

    def __init__(self, command: str, reply: Reply) -> None:
        super().__init__(f"{command} refused: {reply.code} {reply.message}")
        self.code = reply.code
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    message: str  # the text after the code, lines joined with "\n"


@dataclass(frozen=True, slots=True)
class Refusal:
    recipient: str
    reply: Reply


@dataclass(frozen=True, slots=True)
class MailResult:
    """How the server answered one mail transaction.

    ``reply`` is the reply to the end of the data when ``delivered``; otherwise the MAIL / DATA / end of
    data reply that stopped the transaction, or None when every recipient was refused.
    """

    delivered: bool
    reply: Reply | None
    refused: tuple[Refusal, ...] = ()


_CRLF = b"\r\n"
_MAX_REPLY_LINES = 1000
_DOT_JUMPS = 32
_ACCEPTED = (250, 251)  # RCPT: ok, and 'user not local; will forward'
_LINE_END = re.compile(rb"\r\n|\r|\n")


def data_for_wire(data: bytes) -> bytes:
    """``data`` as it goes after DATA: CRLF line ends, dot-stuffed, ended by the ``CRLF.CRLF`` terminator.

    Data already in that form (what our MIME builder makes) is only scanned at C speed, never by a regex.
    """
    crlf = data.count(_CRLF)
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:  # a bare LF or CR somewhere
        data = _LINE_END.sub(_CRLF, data)
    if _line_starts_with_dot(data):
        data = (b"." if data[:1] == b"." else b"") + data.replace(b"\n.", b"\n..")
    if data and not data.endswith(_CRLF):
        data += _CRLF
    return data + b".\r\n"


def _line_starts_with_dot(data: bytes) -> bool:
    """Whether a line of CRLF-normalised ``data`` starts with a dot.

    Jumps from dot to dot (``find`` of one byte is memchr-fast); base64 bodies have dots only in their
    headers.  Prose full of dots falls back to one substring search.
    """
    at = data.find(b".")
    for _ in range(_DOT_JUMPS):
        if at <= 0:
            return at == 0
        if data[at - 1] == 0x0A:
            return True
        at = data.find(b".", at + 1)
    return b"\n." in data


class SmtpConnection:
    """One SMTP session, ready for mail transactions once :meth:`open` returns it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._closing = False  # the server said 421, or the conversation broke: never reuse
        self.extensions: dict[str, str] = {}  # EHLO keyword (upper case) → its parameters
        self.auth_mechanisms: frozenset[str] = frozenset()

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        local_hostname: str,
        timeout_seconds: float,
        tls: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> SmtpConnection:
        """Connect (``tls``: implicit TLS), read the greeting, EHLO, STARTTLS and AUTH as configured."""
        try:
            async with asyncio.timeout(timeout_seconds):
                if tls is not None:
                    reader, writer = await asyncio.open_connection(
                        host, port, ssl=tls, server_hostname=host, ssl_handshake_timeout=timeout_seconds
                    )
                else:
                    reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            raise SmtpConnectError(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise SmtpConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        connection = cls(reader, writer, timeout_seconds)
        try:
            await connection._start_session(host, local_hostname, starttls, username, password)
        except BaseException:
            connection.close()
            raise
        return connection

    @property
    def reusable(self) -> bool:
        """Still open and in step with the server (no 421, no broken or half-read conversation)."""
        return not (self._closing or self._reader.at_eof() or self._writer.is_closing())

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.extensions

    async def send_mail(self, sender: str, recipients: Sequence[str], data: bytes) -> MailResult:
        """One mail transaction.  Raises :class:`SmtpUnsendableError` before writing anything when the
        server cannot take this message, and :class:`SmtpError` / ``OSError`` when the conversation breaks.
        """
        if not recipients:
            return MailResult(delivered=False, reply=None)
        commands = self._envelope(sender, recipients, data)
        body = data_for_wire(data)
        try:
            return await self._transaction(recipients, commands, body)
        except BaseException:
            self._closing = True
            raise

    async def noop(self) -> None:
        reply = await self._command(b"NOOP\r\n")
        if reply.code != 250:
            raise SmtpReplyError("NOOP", reply)

    async def quit(self) -> None:
        """Say goodbye and close, whatever the server answers."""
        try:
            if self.reusable:
                await self._command(b"QUIT\r\n")
        finally:
            self.close()

    def close(self) -> None:
        self._closing = True
        self._writer.close()

    def _envelope(self, sender: str, recipients: Sequence[str], data: bytes) -> list[bytes]:
        utf8 = not (sender.isascii() and all(r.isascii() for r in recipients))
        if utf8 and "SMTPUTF8" not in self.extensions:
            raise SmtpUnsendableError("SMTPUTF8 is not supported by this server")
        params = " SMTPUTF8" if utf8 else ""
        if "SIZE" in self.extensions:
            params += f" SIZE={len(data)}"
        if "8BITMIME" in self.extensions and not data.isascii():
            params += " BODY=8BITMIME"
        lines = [f"MAIL FROM:<{sender}>{params}\r\n", *(f"RCPT TO:<{r}>\r\n" for r in recipients), "DATA\r\n"]
        text = "".join(lines)
        if text.count("\n") != len(lines) or text.count("\r") != len(lines):
            raise SmtpUnsendableError("an envelope address contains a line break")
        encoding = "utf-8" if utf8 else "ascii"
        return [line.encode(encoding) for line in lines]

    async def _transaction(self, recipients: Sequence[str], commands: list[bytes], body: bytes) -> MailResult:
        if self.pipelining:  # RFC 2920: one write, then every reply in order
            self._write(b"".join(commands))
            replies = await self._read_replies(len(commands))
        else:
            replies = await self._lockstep(commands)
        last = len(commands) - 1
        mail, answers, data = replies[0], replies[1:last], replies[last] if len(replies) > last else None
        if mail.code != 250:  # pipelined, the RCPTs and DATA were answered 503: nothing to report
            return await self._abandon(mail, (), data)
        refused = [Refusal(r, a) for r, a in zip(recipients, answers, strict=False) if a.code not in _ACCEPTED]
        if replies[-1].code == 421:
            return await self._abandon(replies[-1], refused)
        if len(refused) == len(recipients):  # pipelined, DATA was answered 503 / 554
            return await self._abandon(None, refused, data)
        if data is None or data.code != 354:
            return await self._abandon(data, refused, data)
        self._write(body)
        [final] = await self._read_replies(1, drain=True)
        return MailResult(delivered=final.code == 250, reply=final, refused=tuple(refused))

    async def _lockstep(self, commands: list[bytes]) -> list[Reply]:
        """Without PIPELINING: one command, one reply; stop where the transaction cannot go on."""
        replies: list[Reply] = []
        accepted = 0
        for index, command in enumerate(commands):
            if index == len(commands) - 1 and not accepted:
                break  # every recipient refused: no DATA
            reply = await self._command(command)
            replies.append(reply)
            if reply.code == 421 or (index == 0 and reply.code != 250):
                break
            if index and reply.code in _ACCEPTED:
                accepted += 1
        return replies

    async def _abandon(
        self, reply: Reply | None, refused: Sequence[Refusal] = (), data: Reply | None = None
    ) -> MailResult:
        """End a failed transaction: finish a DATA the server accepted anyway, then RSET."""
        result = MailResult(delivered=False, reply=reply, refused=tuple(refused))
        if self._closing:  # 421: the server is going away
            return result
        try:
            if data is not None and data.code == 354:  # RFC 2920 §3.1: send an empty message
                await self._command(b".\r\n")
            if not self._closing and (await self._command(b"RSET\r\n")).code != 250:
                self._closing = True
        except (SmtpError, OSError):
            self._closing = True
        return result

    async def _start_session(
        self, host: str, hostname: str, starttls: ssl.SSLContext | None, username: str | None, password: str | None
    ) -> None:
        [greeting] = await self._read_replies(1)
        if greeting.code != 220:
            raise SmtpReplyError("greeting", greeting)
        hello = hostname.encode("ascii")
        await self._hello(hello)
        if starttls is not None:
            if "STARTTLS" not in self.extensions:
                raise SmtpNotSupportedError("the server does not offer STARTTLS")
            reply = await self._command(b"STARTTLS\r\n")
            if reply.code != 220:
                raise SmtpReplyError("STARTTLS", reply)
            await self._writer.start_tls(starttls, server_hostname=host, ssl_handshake_timeout=self._timeout)
            await self._hello(hello)  # RFC 3207: forget what was learnt before TLS
        if username is not None:
            await self._authenticate(username, password or "")

    async def _hello(self, local_hostname: bytes) -> None:
        reply = await self._command(b"EHLO " + local_hostname + _CRLF)
        if reply.code == 250:
            self.extensions, self.auth_mechanisms = _parse_extensions(reply.message)
            return
        if reply.code != 421:
            reply = await self._command(b"HELO " + local_hostname + _CRLF)
            if reply.code == 250:
                self.extensions, self.auth_mechanisms = {}, frozenset()
                return
        raise SmtpReplyError("EHLO / HELO", reply)

    async def _authenticate(self, username: str, password: str) -> None:
        user, secret = username.encode(), password.encode()
        if "PLAIN" in self.auth_mechanisms:
            reply = await self._command(b"AUTH PLAIN " + base64.b64encode(b"\0" + user + b"\0" + secret) + _CRLF)
        elif "LOGIN" in self.auth_mechanisms:
            reply = await self._command(b"AUTH LOGIN\r\n")
            for answer in (user, secret):
                if reply.code != 334:
                    break
                reply = await self._command(base64.b64encode(answer) + _CRLF)
        elif self.auth_mechanisms:
            offered = ", ".join(sorted(self.auth_mechanisms))
            raise SmtpNotSupportedError(f"no AUTH mechanism in common (the server offers {offered})")
        else:
            raise SmtpNotSupportedError("the server does not offer AUTH")
        if reply.code != 235:
            raise SmtpReplyError("AUTH", reply)

    async def _command(self, line: bytes) -> Reply:
        self._write(line)
        [reply] = await self._read_replies(1)
        return reply

    def _write(self, data: bytes) -> None:
        if self._writer.is_closing():
            self._closing = True
            raise SmtpDisconnectedError("the connection is closed")
        self._writer.write(data)

    async def _read_replies(self, count: int, *, drain: bool = False) -> list[Reply]:
        """The next ``count`` replies (fewer when one is 421: the server is leaving), within one timeout.

        ``drain`` first waits until the transport's buffer (a big body) is written.
        """
        replies: list[Reply] = []
        try:
            async with asyncio.timeout(self._timeout):
                if drain and self._writer.transport.get_write_buffer_size():
                    await self._writer.drain()
                while len(replies) < count:
                    reply = await self._next_reply()
                    replies.append(reply)
                    if reply.code == 421:
                        self._closing = True
                        break
        except TimeoutError:
            self._closing = True
            raise SmtpTimeoutError(f"no reply from the server within {self._timeout:g} s") from None
        except ValueError:  # a line longer than the stream's limit
            self._closing = True
            raise SmtpProtocolError("reply line too long") from None
        except BaseException:
            self._closing = True
            raise
        return replies

    async def _next_reply(self) -> Reply:
        lines: list[bytes] = []
        while True:
            line = await self._reader.readline()
            if not line.endswith(b"\n"):
                raise SmtpDisconnectedError("the server closed the connection")
            lines.append(line)
            if line[3:4] != b"-":
                return _parse_reply(lines)
            if len(lines) >= _MAX_REPLY_LINES:
                raise SmtpProtocolError(f"a reply of more than {_MAX_REPLY_LINES} lines")


def _parse_reply(lines: list[bytes]) -> Reply:
    code = lines[0][:3]
    if not code.isdigit() or any(line[:3] != code for line in lines):
        raise SmtpProtocolError(f"not an SMTP reply: {lines[0][:80]!r}")
    if len(lines) == 1:
        text = lines[0][4:].strip()
    else:
        text = b"\n".join(line[4:].strip() for line in lines)
    return Reply(int(code), text.decode("utf-8", "replace"))


def _parse_extensions(ehlo: str) -> tuple[dict[str, str], frozenset[str]]:
    extensions: dict[str, str] = {}
    mechanisms: set[str] = set()
    for line in ehlo.split("\n")[1:]:  # the first line greets
        keyword, _, params = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword.startswith("AUTH="):  # old style, from before RFC 2554 settled
            mechanisms.update(keyword[5:].split(","), params.upper().split())
        elif keyword:
            extensions[keyword] = params.strip()
            if keyword == "AUTH":
                mechanisms.update(params.upper().split())
    return extensions, frozenset(mechanisms)

"""Delivery over SMTP, reusing up to ``pool`` open connections (the wire protocol is in :mod:`.smtpwire`).

Every failure becomes a :class:`SendResult`:

* the server could not be reached or used (refused, timeout, disconnect, EHLO / STARTTLS / AUTH
  refused) → TEMPORARY: the problem is ours or the server's, not this message's;
* the server answered this message's MAIL / RCPT / DATA with 4xx → TEMPORARY, with 5xx → PERMANENT;
* the message cannot be sent to this server at all (a non-ASCII address and no SMTPUTF8) → PERMANENT.

A connection goes back to the pool after a refused message (the transaction is reset), and is dropped
when the server answered 421 or the conversation broke.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import field_validator

from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.options import Provider, ProviderOptions
from afterorder.channels.smtpwire import (
    MailResult,
    Refusal,
    Reply,
    SmtpConnection,
    SmtpError,
    SmtpReplyError,
    SmtpUnsendableError,
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_URL_OPTIONS = frozenset({"starttls", "tls", "timeout", "pool", "verify"})


class ChannelClosedError(RuntimeError):
    """``send`` was called after ``close``."""


@dataclass
class _IdleConnection:
    connection: SmtpConnection
    idle_since: float


class SmtpChannel:
    """An SMTP relay (smtp:// with optional STARTTLS, or smtps://) as a delivery :class:`Channel`."""

    def __init__(
        self,
        *,
        host: str,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        starttls: bool = False,
        timeout: float = 30.0,
        pool: int = 4,
        validate_certs: bool = True,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        ping_after_idle_seconds: float = 10.0,
    ) -> None:
        if use_tls and starttls:
            raise ValueError("use either implicit TLS (smtps://) or STARTTLS, not both")
        if pool < 1:
            raise ValueError(f"pool must be at least 1, got {pool}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if local_hostname is not None and not (local_hostname.isascii() and local_hostname.isprintable()):
            raise ValueError(f"local_hostname must be printable ASCII, got {local_hostname!r}")
        self.host = host
        self.port = port if port is not None else (465 if use_tls else 587 if starttls else 25)
        self.use_tls = use_tls
        self.starttls = starttls
        self.timeout = timeout
        self.pool = pool
        self.username = username
        self._password = password
        self._validate_certs = validate_certs
        self._tls_context = tls_context
        self._local_hostname = local_hostname
        self._ssl_context: ssl.SSLContext | None = None
        self._ping_after_idle = ping_after_idle_seconds
        self._slots = asyncio.Semaphore(pool)
        self._idle: list[_IdleConnection] = []
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, local_hostname: str | None = None) -> SmtpChannel:
        """``smtp://user:pass@host:port?starttls=1&timeout=10&pool=4`` or ``smtps://…`` (implicit TLS).

        Query options: ``starttls``, ``tls``, ``verify`` (booleans, 1/0), ``timeout`` (seconds),
        ``pool`` (max open connections).  User and password are percent-decoded.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP URL must start with smtp:// or smtps://, got {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("SMTP URL has no host")
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
        unknown = set(query) - _URL_OPTIONS
        if unknown:
            raise ValueError(f"unknown SMTP URL option(s): {', '.join(sorted(unknown))}")
        options = {name: values[-1] for name, values in query.items()}
        use_tls = parts.scheme == "smtps" or _flag(options, "tls", default=False)
        return cls(
            host=parts.hostname,
            port=parts.port,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            starttls=_flag(options, "starttls", default=False),
            timeout=float(options.get("timeout", "30")),
            pool=int(options.get("pool", "4")),
            validate_certs=_flag(options, "verify", default=True),
            local_hostname=local_hostname,
        )

    async def send(self, email: OutgoingMessage) -> SendResult:
        if self._closed:
            raise ChannelClosedError("SmtpChannel is closed")
        async with self._slots:
            try:
                connection = await self._checkout()
            except (SmtpError, OSError, TimeoutError) as exc:
                return _unreachable(exc)
            try:
                result = await connection.send_mail(email.envelope_from, email.recipients, email.data)
            except SmtpUnsendableError as exc:  # e.g. non-ASCII address, no SMTPUTF8
                return SendResult(SendOutcome.PERMANENT, None, str(exc))
            except (SmtpError, OSError, TimeoutError) as exc:
                return _unreachable(exc)
            finally:
                if connection.reusable and not self._closed:
                    self._idle.append(_IdleConnection(connection, asyncio.get_running_loop().time()))
                else:
                    connection.close()
            return _classified(result)

    async def close(self) -> None:
        """Quit every pooled connection; connections in use are closed when their send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await conn.connection.quit()
            except (SmtpError, OSError, TimeoutError):
                pass

    async def _checkout(self) -> SmtpConnection:
        now = asyncio.get_running_loop().time()
        while self._idle:
            conn = self._idle.pop()
            if conn.connection.reusable and await self._still_usable(conn, now):
                return conn.connection
            conn.connection.close()
        return await self._connect()

    async def _still_usable(self, conn: _IdleConnection, now: float) -> bool:
        if now - conn.idle_since < self._ping_after_idle:
            return True
        try:
            await conn.connection.noop()
        except (SmtpError, OSError, TimeoutError):
            return False
        return True

    async def _connect(self) -> SmtpConnection:
        if self._local_hostname is None:
            self._local_hostname = await asyncio.get_running_loop().run_in_executor(None, _default_hostname)
        tls = self._tls() if self.use_tls or self.starttls else None
        return await SmtpConnection.open(
            self.host,
            self.port,
            local_hostname=self._local_hostname,
            timeout_seconds=self.timeout,
            tls=tls if self.use_tls else None,
            starttls=tls if self.starttls else None,
            username=self.username,
            password=self._password,
        )

    def _tls(self) -> ssl.SSLContext:
        if self._tls_context is not None:
            return self._tls_context
        if self._ssl_context is None:  # built once: loading the CA bundle costs milliseconds
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            if not self._validate_certs:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl_context = context
        return self._ssl_context


def _default_hostname() -> str:
    """What EHLO says when no ``local_hostname`` is given: this machine's FQDN if it is plain ASCII."""
    name = socket.getfqdn()
    return name if name.isascii() and name.isprintable() and " " not in name else "localhost"


def _flag(options: dict[str, str], name: str, *, default: bool) -> bool:
    value = options.get(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"SMTP URL option {name}={value!r} is not a boolean (use 1 or 0)")


def _mail_options(email: OutgoingMessage) -> list[str]:
    addresses = (email.envelope_from, *email.recipients)
    return [] if all(address.isascii() for address in addresses) else ["SMTPUTF8"]


def _classified(result: MailResult) -> SendResult:
    if result.delivered and result.reply is not None:
        return _sent(result.reply, result.refused)
    if result.reply is None:
        return _recipients_refused(result.refused)
    return _replied(result.reply.code, result.reply.message)


def _sent(reply: Reply, refused: tuple[Refusal, ...]) -> SendResult:
    detail = reply.message
    if refused:
        listed = "; ".join(f"{r.recipient}: {r.reply.code} {r.reply.message}" for r in refused)
        detail = f"{reply.message} (refused: {listed})"
    return SendResult(SendOutcome.SENT, reply.code, detail)


def _replied(code: int, message: str) -> SendResult:
    outcome = SendOutcome.PERMANENT if 500 <= code < 600 else SendOutcome.TEMPORARY
    return SendResult(outcome, code, message)


def _recipients_refused(refusals: tuple[Refusal, ...]) -> SendResult:
    if not refusals:
        return SendResult(SendOutcome.TEMPORARY, None, "all recipients refused")
    temporary = [r for r in refusals if not 500 <= r.reply.code < 600]
    first = (temporary[0] if temporary else refusals[0]).reply
    result = _replied(first.code, first.message)
    if len(refusals) == 1:
        return result
    listed = "; ".join(f"{r.recipient}: {r.reply.code} {r.reply.message}" for r in refusals)
    return SendResult(result.outcome, result.code, listed)


def _unreachable(exc: BaseException) -> SendResult:
    """The server could not be reached or would not talk to us: never this message's fault."""
    code = exc.code if isinstance(exc, SmtpReplyError) else None
    message = str(exc)
    detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return SendResult(SendOutcome.TEMPORARY, code, detail)


class SmtpOptions(ProviderOptions):
    """``url``: ``smtp://user:password@host:587?starttls=1`` or ``smtps://…`` (a secret: it may hold a password)."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"url"})
    url: str

    @field_validator("url")
    @classmethod
    def _readable(cls, value: str) -> str:
        SmtpChannel.from_url(value)  # raises ValueError naming what is wrong
        return value


def _build(options: SmtpOptions, _client: object) -> SmtpChannel:
    return SmtpChannel.from_url(options.url)


PROVIDER = Provider("smtp", ChannelKind.EMAIL, SmtpOptions, _build)

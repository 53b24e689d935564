"""Delivery over SMTP with aiosmtplib, reusing up to ``pool`` open connections.

Every failure becomes a :class:`SendResult`:

* the server could not be reached or used (refused, timeout, disconnect, EHLO / STARTTLS / AUTH
  refused) → TEMPORARY: the problem is ours or the server's, not this message's;
* the server answered this message's MAIL / RCPT / DATA with 4xx → TEMPORARY, with 5xx → PERMANENT.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from afterorder.channels.base import OutgoingEmail, SendOutcome, SendResult

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_URL_OPTIONS = frozenset({"starttls", "tls", "timeout", "pool", "verify"})


class ChannelClosedError(RuntimeError):
    """``send`` was called after ``close``."""


@dataclass
class _IdleConnection:
    smtp: aiosmtplib.SMTP
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

    async def send(self, email: OutgoingEmail) -> SendResult:
        if self._closed:
            raise ChannelClosedError("SmtpChannel is closed")
        async with self._slots:
            try:
                smtp = await self._checkout()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return _unreachable(exc)
            keep = False
            try:
                refused, reply = await smtp.sendmail(
                    email.envelope_from,
                    list(email.recipients),
                    email.data,
                    mail_options=_mail_options(email),
                )
                keep = True
                return _sent(reply, refused)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                keep = smtp.is_connected
                return _recipients_refused(exc)
            except aiosmtplib.SMTPResponseException as exc:
                keep = smtp.is_connected and exc.code != 421  # 421: the server is closing the connection
                return _replied(exc.code, exc.message)
            except aiosmtplib.SMTPNotSupported as exc:  # e.g. non-ASCII address, no SMTPUTF8
                keep = smtp.is_connected
                return SendResult(SendOutcome.PERMANENT, None, exc.message)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return _unreachable(exc)
            finally:
                if keep and not self._closed:
                    self._idle.append(_IdleConnection(smtp, asyncio.get_running_loop().time()))
                else:
                    smtp.close()

    async def close(self) -> None:
        """Quit every pooled connection; connections in use are closed when their send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await conn.smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass
            finally:
                conn.smtp.close()

    async def _checkout(self) -> aiosmtplib.SMTP:
        now = asyncio.get_running_loop().time()
        while self._idle:
            conn = self._idle.pop()
            if conn.smtp.is_connected and await self._still_usable(conn, now):
                return conn.smtp
            conn.smtp.close()
        return await self._connect()

    async def _still_usable(self, conn: _IdleConnection, now: float) -> bool:
        if now - conn.idle_since < self._ping_after_idle:
            return True
        try:
            await conn.smtp.noop()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return False
        return True

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self._password,
            use_tls=self.use_tls,
            start_tls=self.starttls,
            timeout=self.timeout,
            validate_certs=self._validate_certs,
            tls_context=self._tls_context,
            local_hostname=self._local_hostname,
        )
        await smtp.connect()
        return smtp


def _flag(options: dict[str, str], name: str, *, default: bool) -> bool:
    value = options.get(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"SMTP URL option {name}={value!r} is not a boolean (use 1 or 0)")


def _mail_options(email: OutgoingEmail) -> list[str]:
    addresses = (email.envelope_from, *email.recipients)
    return [] if all(address.isascii() for address in addresses) else ["SMTPUTF8"]


def _sent(reply: str, refused: dict[str, aiosmtplib.SMTPResponse]) -> SendResult:
    detail = reply
    if refused:
        listed = "; ".join(f"{rcpt}: {resp.code} {resp.message}" for rcpt, resp in refused.items())
        detail = f"{reply} (refused: {listed})"
    return SendResult(SendOutcome.SENT, 250, detail)


def _replied(code: int, message: str) -> SendResult:
    outcome = SendOutcome.PERMANENT if 500 <= code < 600 else SendOutcome.TEMPORARY
    return SendResult(outcome, code, message)


def _recipients_refused(exc: aiosmtplib.SMTPRecipientsRefused) -> SendResult:
    refusals = exc.recipients
    if not refusals:
        return SendResult(SendOutcome.TEMPORARY, None, "all recipients refused")
    temporary = [r for r in refusals if not 500 <= r.code < 600]
    first = temporary[0] if temporary else refusals[0]
    result = _replied(first.code, first.message)
    if len(refusals) == 1:
        return result
    listed = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refusals)
    return SendResult(result.outcome, result.code, listed)


def _unreachable(exc: BaseException) -> SendResult:
    """The server could not be reached or would not talk to us: never this message's fault."""
    code = exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else None
    message = exc.message if isinstance(exc, aiosmtplib.SMTPException) else str(exc)
    detail = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return SendResult(SendOutcome.TEMPORARY, code, detail)

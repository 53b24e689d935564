"""The built-in development SMTP server: aiosmtpd's protocol served from the app's own asyncio loop.

Everything it receives lands in a :class:`DevInbox`.  For testing delivery it can refuse mail
(``fail_with = 451`` or ``550``) and go down and come back on the same port.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Literal

from aiosmtpd.smtp import SMTP as SmtpProtocol
from aiosmtpd.smtp import Envelope, Session

from afterorder.dev.inbox import DevInbox

__all__ = ["DevSmtpServer", "FailStage", "failure_reply", "start_dev_smtp"]

FailStage = Literal["MAIL", "RCPT", "DATA"]

_FAILURE_REPLIES = {
    421: "421 4.3.2 service not available, closing channel",
    450: "450 4.2.1 mailbox unavailable, try later",
    451: "451 4.3.0 try later",
    452: "452 4.3.1 insufficient system storage",
    550: "550 5.1.1 no such user",
    552: "552 5.3.4 message too big",
    553: "553 5.1.3 mailbox name not allowed",
    554: "554 5.7.1 rejected",
}


def failure_reply(code: int) -> str:
    if code in _FAILURE_REPLIES:
        return _FAILURE_REPLIES[code]
    if not 400 <= code < 600:
        raise ValueError(f"a failure reply code is 4xx or 5xx, got {code}")
    return f"{code} {code // 100}.0.0 simulated failure"


class DevSmtpServer:
    """A listening development SMTP server.  Create it with :func:`start_dev_smtp`."""

    def __init__(self, host: str, port: int, inbox: DevInbox, *, server_name: str = "afterorder.dev") -> None:
        self.host = host
        self.port = port
        self.inbox = inbox
        self.server_name = server_name
        self.fail_with: int | None = None  # answer with this 4xx / 5xx code at ``fail_at``
        self.fail_at: FailStage = "RCPT"
        self.connections_opened = 0
        self._server: asyncio.Server | None = None
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._handler = _Handler(self)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"smtp://{host}:{self.port}"

    @property
    def is_listening(self) -> bool:
        return self._server is not None

    async def start_listening(self) -> None:
        """Listen on ``port`` (a free one the first time if it is 0; the same one after a stop)."""
        if self._server is not None:
            return
        self._server = await asyncio.get_running_loop().create_server(
            self._accept, host=self.host, port=self.port
        )
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        """Go down: stop accepting and drop every open connection.  The port is kept for later."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.abort()
        await server.wait_closed()
        await asyncio.sleep(0)  # let the dropped connections' callbacks run

    async def close(self) -> None:
        await self.stop_listening()

    def _accept(self) -> Any:
        self.connections_opened += 1
        connection = SmtpProtocol(
            self._handler,
            hostname=self.server_name,
            ident="afterorder dev SMTP",
            enable_SMTPUTF8=True,
            loop=asyncio.get_running_loop(),
        )
        self._connections.add(connection)
        return connection

    def _failure(self, stage: FailStage) -> str | None:
        if self.fail_with is None or self.fail_at != stage:
            return None
        return failure_reply(self.fail_with)


class _Handler:
    """aiosmtpd handler hooks (looked up by name)."""

    def __init__(self, server: DevSmtpServer) -> None:
        self._server = server

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        failure = self._server._failure("MAIL")
        if failure is not None:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        failure = self._server._failure("RCPT")
        if failure is not None:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        failure = self._server._failure("DATA")
        if failure is not None:
            return failure
        raw = envelope.original_content or b""
        mail = self._server.inbox.add(envelope.mail_from or "", tuple(envelope.rcpt_tos), bytes(raw))
        return f"250 2.0.0 OK queued as {mail.id}"


async def start_dev_smtp(
    host: str = "127.0.0.1", port: int = 0, inbox: DevInbox | None = None
) -> DevSmtpServer:
    """Start the development SMTP server in the running loop.  ``port=0`` picks a free port."""
    server = DevSmtpServer(host, port, inbox if inbox is not None else DevInbox())
    await server.start_listening()
    return server

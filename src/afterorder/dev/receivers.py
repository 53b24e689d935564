"""The demo's receivers, all in the running process on loopback ports: the development SMTP server
(its inbox), a local LINE Messaging API and a local Twilio (``dev/sinks``).

``afterorder demo`` starts all three and points its sample stores' channels at them; ``serve
--dev-smtp`` starts only the SMTP server.  ``/inbox`` shows what each received: mails, LINE chats,
SMS threads.  The sinks answer as the providers do (auth, limits, retry keys), so what the demo
sends takes the same path as a real store's messages.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn

from afterorder.dev.inbox import DevInbox
from afterorder.dev.sinks.line import LineSink
from afterorder.dev.sinks.twilio import TwilioSink
from afterorder.dev.smtp_server import DevSmtpServer, start_dev_smtp


class ServedApp:
    """An ASGI app served by uvicorn from the running loop, on a port the system picked."""

    def __init__(self, app: Any, host: str) -> None:
        self._socket = socket.create_server((host, 0))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:  # uvicorn offers no start event
            if self._task.done():
                await self._task
                raise OSError(f"could not serve on {self.url}")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()


@dataclass
class DevReceivers:
    """What the development servers received.  ``line`` and ``sms`` are None when not started."""

    smtp: DevSmtpServer
    line: LineSink | None = None
    line_url: str = ""
    sms: TwilioSink | None = None
    sms_url: str = ""
    _served: list[ServedApp] = field(default_factory=list)

    @property
    def inbox(self) -> DevInbox:
        return self.smtp.inbox

    async def close(self) -> None:
        for served in self._served:
            await served.close()
        await self.smtp.close()


async def start_dev_receivers(host: str = "127.0.0.1", *, sinks: bool = True,
                              clock: Callable[[], datetime] | None = None) -> DevReceivers:
    """The development SMTP server and, with ``sinks``, the local LINE and Twilio, each on a free port.
    ``clock`` stamps what they receive (the server's clock, so the demo's fast days show; default: now)."""
    stamp = clock or (lambda: datetime.now(UTC))
    receivers = DevReceivers(await start_dev_smtp(host, inbox=DevInbox(clock=stamp)))
    if not sinks:
        return receivers
    try:
        line, sms = LineSink(clock=stamp), TwilioSink(clock=stamp)
        receivers.line, receivers.line_url = line, await _serve(receivers, line.app(), host)
        receivers.sms, receivers.sms_url = sms, await _serve(receivers, sms.app(), host)
    except BaseException:
        await receivers.close()
        raise
    return receivers


async def _serve(receivers: DevReceivers, app: Any, host: str) -> str:
    served = ServedApp(app, host)
    receivers._served.append(served)
    await served.start()
    return served.url

"""A minimal SMTP receiver for the latency bench: it records when each recipient's mail arrived.

aiosmtpd costs the bench process CPU it needs for timing at 200 mails/s; this speaks just enough
SMTP (EHLO with PIPELINING, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and parses nothing of the message.
"""

from __future__ import annotations

import asyncio
import time


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # recipient (lower case) → time.time() at the end of DATA
        self.received = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 bench ESMTP\r\n")
        recipients: list[str] = []
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
                elif verb == b"MAIL":
                    recipients = []
                    writer.write(b"250 ok\r\n")
                elif verb == b"RCPT":
                    start, end = line.find(b"<"), line.find(b">")
                    recipients.append(line[start + 1:end].decode("utf-8", "replace").lower())
                    writer.write(b"250 ok\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go\r\n")
                    await reader.readuntil(b"\r\n.\r\n")
                    at = time.time()
                    for address in recipients:
                        self.arrivals.setdefault(address, at)
                    self.received += 1
                    writer.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

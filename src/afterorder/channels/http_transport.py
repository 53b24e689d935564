"""HTTP/1.1 for the HTTP providers: connections kept open and reused, each request one write.

httpx's own transport (httpcore) cost about 1.1 ms of CPU per request on the bench machine, of
which the provider's 5 ms answer leaves nothing to hide: at every request its pool looks at every
idle connection with a ``select()``, each step goes through anyio, and the head and the body go out
as separate writes (``bench/channels.py``'s profile; the same hot spots as httpx issue #3215).
This transport does what the providers need and no more, for about half of that:

* HTTP/1.1 framed by h11 (the state machine httpcore itself uses: Content-Length, chunked,
  close-delimited answers, 1xx skipped); the request's head and body in one write;
* at most ``max_connections`` open at once (a request waits for one, up to the pool timeout);
  an idle connection is reused while the server keeps it open and for ``keepalive_expiry``
  seconds at most, and closed when an answer was not read to its end;
* TLS for https with httpx's SSL context (the same certificates httpx would trust);
* the timeouts httpx hands every request (connect, read, write, pool) and httpx's exceptions, so
  ``HttpChannel`` tells "nothing was sent" (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``)
  from "sent, answer unknown" (the rest) exactly as before.

No HTTP/2 and no proxies: :func:`provider_client` gives httpx's own transport when the environment
names a proxy (``HTTPS_PROXY`` …), which honours it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import h11
import httpx

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx's default)
READ_SIZE = 65_536
_DEFAULT_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]  # scheme, host, port


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0
    state: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))

    def usable(self, now: float, expiry: float) -> bool:
        """Still open (the server has not closed it) and not idle for too long."""
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < expiry

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class _Timeouts:
    connect: float | None
    read: float | None
    write: float | None
    pool: float | None

    @classmethod
    def of(cls, request: httpx.Request) -> _Timeouts:
        given = request.extensions.get("timeout", {})
        return cls(given.get("connect"), given.get("read"), given.get("write"), given.get("pool"))


@contextmanager
def _mapped(timeout: type[httpx.TimeoutException], error: type[httpx.TransportError],
            request: httpx.Request) -> Iterator[None]:
    """The step's failures as httpx's exceptions (``timeout`` when it took too long, else ``error``)."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout(f"{timeout.__name__}", request=request) from exc
    except h11.ProtocolError as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise error(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, request=request) from exc


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 32, keepalive_expiry: float = KEEPALIVE_EXPIRY,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        timeouts = _Timeouts.of(request)
        body = await request.aread()
        with _mapped(httpx.PoolTimeout, httpx.ConnectError, request):
            async with asyncio.timeout(timeouts.pool):
                await self._slots.acquire()
        try:
            return await self._exchange(request, body, timeouts)
        finally:
            self._slots.release()

    async def _exchange(self, request: httpx.Request, body: bytes, timeouts: _Timeouts) -> httpx.Response:
        origin = _origin(request.url)
        connection = self._reuse(origin) or await self._connect(origin, request, timeouts.connect)
        try:
            response = await self._send(connection, request, body, timeouts)
        except BaseException:
            connection.close()
            raise
        self._release(origin, connection)
        return response

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle, now = self._idle.get(origin, []), time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now, self._expiry):
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, request: httpx.Request, within: float | None) -> _Connection:
        scheme, host, port = origin
        context = (self._ssl or httpx.create_ssl_context()) if scheme == b"https" else None
        if context is not None and self._ssl is None:
            self._ssl = context  # made once (loading the certificates takes milliseconds)
        with _mapped(httpx.ConnectTimeout, httpx.ConnectError, request):
            async with asyncio.timeout(within):
                reader, writer = await asyncio.open_connection(host.decode("ascii"), port, ssl=context,
                                                               limit=READ_SIZE)
        return _Connection(reader, writer)

    async def _send(self, connection: _Connection, request: httpx.Request, body: bytes,
                    timeouts: _Timeouts) -> httpx.Response:
        state = connection.state
        head = h11.Request(method=request.method, target=request.url.raw_path, headers=list(request.headers.raw))
        data = state.send(head) or b""
        if body:
            data += state.send(h11.Data(data=body)) or b""
        data += state.send(h11.EndOfMessage()) or b""
        with _mapped(httpx.WriteTimeout, httpx.WriteError, request):
            async with asyncio.timeout(timeouts.write):
                connection.writer.write(data)
                await connection.writer.drain()
        with _mapped(httpx.ReadTimeout, httpx.ReadError, request):
            async with asyncio.timeout(timeouts.read):
                answer, content = await _receive(connection, request)
        return httpx.Response(answer.status_code, headers=answer.headers.raw_items(), stream=httpx.ByteStream(content),
                              extensions={"http_version": b"HTTP/" + answer.http_version,
                                          "reason_phrase": answer.reason}, request=request)

    def _release(self, origin: Origin, connection: _Connection) -> None:
        state = connection.state
        if self._closed or state.our_state is not h11.DONE or state.their_state is not h11.DONE:
            connection.close()  # the server closes it, or it cannot carry another request
            return
        state.start_next_cycle()
        connection.idle_since = time.monotonic()
        self._idle.setdefault(origin, []).append(connection)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        closing = [connection for connections in idle.values() for connection in connections]
        for connection in closing:
            connection.close()
        if closing:
            await asyncio.wait([asyncio.ensure_future(c.writer.wait_closed()) for c in closing], timeout=1.0)


async def _receive(connection: _Connection, request: httpx.Request) -> tuple[h11.Response, bytes]:
    """The answer's head and its whole body."""
    state, answer, chunks = connection.state, None, []
    while True:
        event = state.next_event()
        if event is h11.NEED_DATA:
            state.receive_data(await connection.reader.read(READ_SIZE))
        elif isinstance(event, h11.Response):
            answer = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage) and answer is not None:
            return answer, b"".join(chunks)
        elif isinstance(event, h11.ConnectionClosed):
            raise httpx.RemoteProtocolError("Server disconnected without sending a complete response",
                                            request=request)


def _origin(url: httpx.URL) -> Origin:
    scheme = url.raw_scheme
    return scheme, url.raw_host, url.port or _DEFAULT_PORTS.get(scheme, 80)


def provider_client(timeout: httpx.Timeout, max_connections: int) -> httpx.AsyncClient:
    """The HTTP client of a provider that was given none: this transport, or httpx's own when the
    environment names a proxy (httpx honours ``HTTP(S)_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    if _environment_proxies():
        return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                             transport=KeepAliveTransport(max_connections=max_connections))


def _environment_proxies() -> bool:
    from urllib.request import getproxies

    return any(scheme in ("http", "https", "all") for scheme in getproxies())

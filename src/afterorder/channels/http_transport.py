"""HTTP/1.1 for the HTTP providers: connections kept open and reused, each request one write.

httpx's own transport (httpcore) cost about 1 ms of CPU per request on the bench machine, more than
everything else delivery does for a message: at every request its pool looks at every idle
connection with a ``select()``, each step goes through anyio, and the head and the body go out as
separate writes (``bench/channels.py``'s profile; the hot spots of httpx issue #3215).  This
transport does what the providers need and no more, for a quarter of that:

* HTTP/1.1 requests with a body of known length, written at once; answers framed by
  ``Content-Length``, ``chunked`` or the end of the connection (RFC 9112 §6.3), 1xx skipped;
* at most ``max_connections`` open at once (a request waits for one, up to the pool timeout);
  an idle connection is reused while the server keeps it open and for ``keepalive_expiry``
  seconds at most, and closed when its answer was not read to the end or the server asked;
* TLS for https with httpx's SSL context (the certificates httpx would trust);
* the timeouts httpx hands a request (connect, read, write, pool) and httpx's exceptions, so
  ``HttpChannel`` tells "nothing was sent" (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``)
  from "sent, answer unknown" (the rest) as before.

It is an ``httpx.AsyncBaseTransport``; ``HttpChannel`` calls it directly (httpx's client layer —
cookies, redirects, auth, merging — cost another 0.15 ms a request and providers need none of it).
No HTTP/2 and no proxies: :func:`uses_proxy` says when the environment names one (``HTTPS_PROXY``
…), and then ``HttpChannel`` sends through an ``httpx.AsyncClient``, which honours it.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.request import getproxies

import httpx

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx's default)
MAX_HEAD = 65_536  # bytes of an answer's status line and headers
MAX_BODY = 10_000_000  # bytes of an answer's body (providers answer with a few hundred)
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([^\r\n]*))?")
_UNSAFE = re.compile(rb"[\r\n\0]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r\n")

Origin = tuple[bytes, bytes, int]  # scheme, host, port
RawHeaders = list[tuple[bytes, bytes]]


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

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


@dataclass(frozen=True)
class _Head:
    version: bytes  # b"1.1" or b"1.0"
    status: int
    reason: bytes
    headers: RawHeaders

    def values(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.headers if k.lower() == name]

    def tokens(self, name: bytes) -> list[bytes]:
        return [t.strip().lower() for v in self.values(name) for t in v.split(b",") if t.strip()]


class _ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as it must be."""


@contextmanager
def _mapped(timeout: type[httpx.TimeoutException], error: type[httpx.TransportError],
            request: httpx.Request) -> Iterator[None]:
    """The step's failures as httpx's exceptions (``timeout`` when it took too long, else ``error``)."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout(timeout.__name__, request=request) from exc
    except asyncio.IncompleteReadError as exc:
        said = "without sending a response" if not exc.partial else "before the end of its answer"
        raise httpx.RemoteProtocolError(f"Server disconnected {said}", request=request) from exc
    except (_ProtocolError, asyncio.LimitOverrunError) as exc:
        raise httpx.RemoteProtocolError(f"the server's answer is not valid HTTP/1.1: {exc}", request=request) from exc
    except OSError as exc:
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
        timeouts, head = _Timeouts.of(request), _request_head(request)
        data = head + await request.aread()
        if self._slots.locked():  # every connection is busy: wait for one, up to the pool timeout
            with _mapped(httpx.PoolTimeout, httpx.ConnectError, request):
                async with asyncio.timeout(timeouts.pool):
                    await self._slots.acquire()
        else:
            await self._slots.acquire()
        try:
            return await self._exchange(request, data, timeouts)
        finally:
            self._slots.release()

    async def _exchange(self, request: httpx.Request, data: bytes, timeouts: _Timeouts) -> httpx.Response:
        origin = _origin(request.url)
        connection = self._reuse(origin) or await self._connect(origin, request, timeouts.connect)
        try:
            head, content, reusable = await self._send(connection, request, data, timeouts)
        except BaseException:
            connection.close()
            raise
        self._release(origin, connection, reusable)
        return httpx.Response(head.status, headers=head.headers, stream=httpx.ByteStream(content), request=request,
                              extensions={"http_version": b"HTTP/" + head.version, "reason_phrase": head.reason})

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
        context = None
        if scheme == b"https":
            context = self._ssl = self._ssl or httpx.create_ssl_context()  # made once: loading certificates is slow
        with _mapped(httpx.ConnectTimeout, httpx.ConnectError, request):
            async with asyncio.timeout(within):
                reader, writer = await asyncio.open_connection(host.decode("ascii"), port, ssl=context,
                                                               limit=MAX_HEAD)
        return _Connection(reader, writer)

    @staticmethod
    async def _send(connection: _Connection, request: httpx.Request, data: bytes, timeouts: _Timeouts
                    ) -> tuple[_Head, bytes, bool]:
        with _mapped(httpx.WriteTimeout, httpx.WriteError, request):
            connection.writer.write(data)
            if connection.writer.transport.get_write_buffer_size():  # not all sent at once: wait for room
                async with asyncio.timeout(timeouts.write):
                    await connection.writer.drain()
        with _mapped(httpx.ReadTimeout, httpx.ReadError, request):
            async with asyncio.timeout(timeouts.read):
                return await _receive(connection.reader, request.method)

    def _release(self, origin: Origin, connection: _Connection, reusable: bool) -> None:
        if self._closed or not reusable:
            connection.close()
            return
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


def _request_head(request: httpx.Request) -> bytes:
    """``METHOD target HTTP/1.1`` and the headers (httpx put Host and Content-Length there)."""
    if "content-length" not in request.headers:
        raise httpx.LocalProtocolError("only requests of a known length are sent (no chunked upload)",
                                       request=request)
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if _UNSAFE.search(name) or _UNSAFE.search(value) or b":" in name:
            raise httpx.LocalProtocolError(f"header {name!r} cannot be sent as it is", request=request)
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _receive(reader: asyncio.StreamReader, method: str) -> tuple[_Head, bytes, bool]:
    """The answer's head, its whole body, and whether the connection can carry another request."""
    head = _parse_head(await reader.readuntil(b"\r\n\r\n"))
    while 100 <= head.status < 200 and head.status != 101:  # interim answers (100 Continue, 103)
        head = _parse_head(await reader.readuntil(b"\r\n\r\n"))
    keep = head.version == b"1.1" and b"close" not in head.tokens(b"connection")
    if method == "HEAD" or head.status in (101, 204, 304):
        return head, b"", keep and head.status != 101
    codings = head.tokens(b"transfer-encoding")
    if codings:
        if codings[-1] != b"chunked":
            return head, await _until_closed(reader), False
        return head, await _chunked(reader), keep
    lengths = {v.strip() for v in head.values(b"content-length")}
    if not lengths:
        return head, await _until_closed(reader), False
    length = next(iter(lengths))
    if len(lengths) > 1 or not length.isdigit() or int(length) > MAX_BODY:
        raise _ProtocolError(f"Content-Length {b', '.join(sorted(lengths))!r}")
    return head, await reader.readexactly(int(length)), keep


def _parse_head(data: bytes) -> _Head:
    status_line, *lines = data[:-4].split(b"\r\n")
    found = _STATUS_LINE.fullmatch(status_line)
    if found is None:
        raise _ProtocolError(f"status line {status_line[:80]!r}")
    headers: RawHeaders = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and headers:  # an obsolete folded line: part of the header before
            name, value = headers.pop()
            headers.append((name, value + b" " + line.strip()))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise _ProtocolError(f"header line {line[:80]!r}")
        headers.append((name, value.strip()))
    return _Head(b"1." + found[1], int(found[2]), found[3] or b"", headers)


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """A body that ends with the connection."""
    chunks, size = [], 0
    while data := await reader.read(MAX_HEAD):
        chunks.append(data)
        size += len(data)
        if size > MAX_BODY:
            raise _ProtocolError(f"a body of more than {MAX_BODY:,} bytes")
    return b"".join(chunks)


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        found = _CHUNK_SIZE.fullmatch(size_line)
        if found is None:
            raise _ProtocolError(f"chunk size {size_line[:40]!r}")
        size = int(found[1], 16)
        total += size
        if total > MAX_BODY:
            raise _ProtocolError(f"a body of more than {MAX_BODY:,} bytes")
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields: read and dropped
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise _ProtocolError("a chunk does not end with CRLF")


def _origin(url: httpx.URL) -> Origin:
    scheme = url.raw_scheme
    return scheme, url.raw_host, url.port or _DEFAULT_PORTS.get(scheme, 80)


def uses_proxy() -> bool:
    """Whether the environment names a proxy for HTTP(S) (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``)."""
    return any(scheme in ("http", "https", "all") for scheme in getproxies())

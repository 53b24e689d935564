"""The HTTP providers' keep-alive transport (channels/http_transport.py) against scripted servers on
loopback: what the server receives, answers in every HTTP/1.1 framing, connections reused or not,
TLS, timeouts and failures as httpx's exceptions, and what a provider channel makes of them."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.http_transport import KeepAliveTransport
from afterorder.channels.line import LineChannel

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
TIMEOUTS = {"timeout": {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}}
LINE_USER = "U" + "4" * 32


@dataclass
class Received:
    connection: int  # which connection it came on (0, 1, …)
    head: bytes
    body: bytes


Answer = Callable[[Received, asyncio.StreamWriter], Awaitable[None]]


def answer(data: bytes, *, close: bool = False) -> Answer:
    async def reply(_request: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()

    return reply


@dataclass
class Scripted:
    """A server answering each request with the next scripted answer (``OK`` when none is left)."""

    answers: list[Answer] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        number, self.connections = self.connections, self.connections + 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while not writer.is_closing():
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = Received(number, head, await reader.readexactly(length))
                self.received.append(request)
                await (self.answers.pop(0) if self.answers else answer(OK))(request, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open_now -= 1
            writer.close()

    async def stop(self) -> None:
        """End every connection still being served (a scripted answer may still be waiting)."""
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)


@asynccontextmanager
async def scripted(*answers: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[Scripted, str]]:
    server = Scripted(list(answers))
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        listening.close()
        await server.stop()


async def post(transport: KeepAliveTransport, url: str, body: bytes = b'{"n":1}', path: str = "/v1/send",
               extensions: dict[str, object] | None = None) -> httpx.Response:
    request = httpx.Request("POST", url + path, headers={"Content-Type": "application/json", "X-Key": "k1"},
                            content=body, extensions=extensions or TIMEOUTS)
    response = await transport.handle_async_request(request)
    await response.aread()
    return response


async def test_requests_arrive_whole_and_share_one_connection() -> None:
    transport = KeepAliveTransport()
    async with scripted() as (server, url):
        answers = [await post(transport, url, b'{"n":%d}' % n, f"/v1/send?n={n}") for n in range(3)]
    await transport.aclose()

    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.json() for r in answers] == [{"ok": True}] * 3
    assert server.connections == 1
    first = server.received[0]
    assert first.head.startswith(b"POST /v1/send?n=0 HTTP/1.1\r\n")
    assert f"Host: {url.removeprefix('http://')}".encode() in first.head
    assert b"Content-Length: 7\r\n" in first.head and b"X-Key: k1\r\n" in first.head
    assert [r.body for r in server.received] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


async def test_a_body_larger_than_the_sockets_buffers_arrives_whole() -> None:
    body = bytes(range(256)) * 32_768  # 8 MiB: the write waits for the server to read
    transport = KeepAliveTransport()
    async with scripted() as (server, url):
        response = await post(transport, url, body)
    await transport.aclose()

    assert response.status_code == 200
    assert server.received[0].body == body


async def test_a_chunked_answer_is_put_together_and_the_connection_kept() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    transport = KeepAliveTransport()
    async with scripted(answer(chunked)) as (server, url):
        first = await post(transport, url)
        second = await post(transport, url)
    await transport.aclose()

    assert first.content == b"hello world"
    assert second.json() == {"ok": True}
    assert server.connections == 1


async def test_an_answer_without_length_ends_with_the_connection() -> None:
    transport = KeepAliveTransport()
    async with scripted(answer(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", close=True)) as (server, url):
        first = await post(transport, url)
        second = await post(transport, url)
    await transport.aclose()

    assert first.content == b"until the end"
    assert second.status_code == 200
    assert server.connections == 2


async def test_connection_close_and_http_1_0_answers_are_not_reused() -> None:
    transport = KeepAliveTransport()
    close = b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with scripted(answer(close), answer(old)) as (server, url):
        statuses = [(await post(transport, url)).status_code for _ in range(3)]
    await transport.aclose()

    assert statuses == [202, 200, 200]
    assert server.connections == 3


async def test_an_interim_answer_is_skipped() -> None:
    transport = KeepAliveTransport()
    async with scripted(answer(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)) as (_server, url):
        response = await post(transport, url)
    await transport.aclose()

    assert response.status_code == 200 and response.json() == {"ok": True}


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    transport = KeepAliveTransport()
    async with scripted(answer(OK, close=True)) as (server, url):
        await post(transport, url)
        await asyncio.sleep(0.1)  # the server's close reaches the client while the connection is idle
        response = await post(transport, url)
    await transport.aclose()

    assert response.status_code == 200
    assert server.connections == 2


async def test_an_idle_connection_is_dropped_after_the_keepalive_expiry() -> None:
    transport = KeepAliveTransport(keepalive_expiry=0.05)
    async with scripted() as (server, url):
        await post(transport, url)
        await asyncio.sleep(0.1)
        await post(transport, url)
    await transport.aclose()

    assert server.connections == 2


async def test_no_more_than_max_connections_are_open_and_the_rest_wait() -> None:
    async def slowly(_request: Received, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        writer.write(OK)

    transport = KeepAliveTransport(max_connections=2)
    async with scripted(*[slowly] * 6) as (server, url):
        answers = await asyncio.gather(*(post(transport, url) for _ in range(6)))
    await transport.aclose()

    assert [r.status_code for r in answers] == [200] * 6
    assert server.most_open == 2


async def test_a_request_that_cannot_get_a_connection_in_time_is_a_pool_timeout() -> None:
    async def never(_request: Received, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    transport = KeepAliveTransport(max_connections=1)
    quick_pool = {"timeout": {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 0.1}}
    async with scripted(never) as (_server, url):
        stuck = asyncio.create_task(post(transport, url))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await post(transport, url, extensions=quick_pool)
        stuck.cancel()
    await transport.aclose()


async def test_silence_is_a_read_timeout_and_garbage_or_a_cut_answer_a_protocol_error() -> None:
    async def never(_request: Received, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    quick_read = {"timeout": {"connect": 5.0, "read": 0.1, "write": 5.0, "pool": 5.0}}
    cut = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly part", close=True)
    transport = KeepAliveTransport()
    async with scripted(never, answer(b"SMTP/2.0 250 hi\r\n\r\n"), cut) as (_server, url):
        with pytest.raises(httpx.ReadTimeout):
            await post(transport, url, extensions=quick_read)
        with pytest.raises(httpx.RemoteProtocolError, match=r"not valid HTTP/1\.1"):
            await post(transport, url)
        with pytest.raises(httpx.RemoteProtocolError, match="disconnected before the end"):
            await post(transport, url)
        after = await post(transport, url)
    await transport.aclose()

    assert after.status_code == 200  # a failed exchange does not spoil the next one


async def test_nothing_listening_is_a_connect_error() -> None:
    transport = KeepAliveTransport()
    async with scripted() as (_server, url):
        pass  # closed again: nothing listens on that port now
    with pytest.raises(httpx.ConnectError):
        await post(transport, url)
    await transport.aclose()


def _self_signed(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only that server's certificate) for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


async def test_https_with_the_servers_certificate_checked(tmp_path: Path) -> None:
    server_tls, client_tls = _self_signed(tmp_path)
    trusting, default = KeepAliveTransport(ssl_context=client_tls), KeepAliveTransport()
    async with scripted(tls=server_tls) as (server, url):
        responses = [await post(trusting, url) for _ in range(2)]
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await post(default, url)  # a certificate nobody vouches for is refused
    await trusting.aclose()
    await default.aclose()

    assert [r.json() for r in responses] == [{"ok": True}] * 2
    assert server.connections in (1, 2)  # the refused handshake may or may not reach the handler
    assert sum(1 for r in server.received if r.connection == server.received[0].connection) == 2


def line_message(n: int) -> OutgoingMessage:
    return OutgoingMessage(f"<t{n}@shop.example>", "", (LINE_USER,),
                           b'{"messages":[{"type":"text","text":"Your order shipped"}]}', ChannelKind.LINE)


async def test_a_provider_tells_nothing_sent_from_an_answer_that_never_came() -> None:
    async def never(_request: Received, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async with scripted(never) as (_server, url):
        silent = LineChannel("token", url, timeout=0.2)
        no_answer = await silent.send(line_message(1))
        await silent.close()
    unreachable = LineChannel("token", url, timeout=0.2)
    refused = await unreachable.send(line_message(2))
    await unreachable.close()

    assert no_answer.outcome is SendOutcome.TEMPORARY and no_answer.unknown
    assert "ReadTimeout" in no_answer.detail
    assert refused.outcome is SendOutcome.TEMPORARY and not refused.unknown
    assert "unreachable" in refused.detail


async def test_with_a_proxy_in_the_environment_a_provider_sends_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = b'{"sentMessages":[{"id":"1","quoteToken":"q"}]}'
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(sent), sent)
    async with scripted(answer(ok)) as (proxy, proxy_url):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        channel = LineChannel("token", "http://api.line.example")
        result = await channel.send(line_message(3))
        await channel.close()

    assert result.outcome is SendOutcome.SENT
    assert proxy.received[0].head.startswith(b"POST http://api.line.example/v2/bot/message/push HTTP/1.1")

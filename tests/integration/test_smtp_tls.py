"""SmtpChannel over TLS against aiosmtpd: STARTTLS then AUTH PLAIN, and implicit TLS (smtps://)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as AiosmtpdProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from afterorder.channels import SendOutcome, SmtpChannel
from tests.integration.test_smtp_wire import make_email
from tests.system_packages import require


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    require(openssl is not None, "openssl (to make a test certificate)", "sudo apt-get install openssl")
    assert openssl is not None
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class _Recorder:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 OK"


def _login(server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"shop", b"p@ss")
    return AuthResult(success=ok, handled=False)


async def _aiosmtpd(recorder: _Recorder, ssl_context: ssl.SSLContext | None = None, **options: Any) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: AiosmtpdProtocol(recorder, hostname="tls.test", loop=loop, **options), "127.0.0.1", 0, ssl=ssl_context
    )


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


async def test_starttls_then_auth_plain(certificate: tuple[Path, Path]) -> None:
    recorder = _Recorder()
    server = await _aiosmtpd(
        recorder, tls_context=_server_context(certificate), require_starttls=True, authenticator=_login
    )
    port = server.sockets[0].getsockname()[1]
    good = SmtpChannel.from_url(f"smtp://shop:p%40ss@127.0.0.1:{port}?starttls=1&verify=0&timeout=5")
    bad = SmtpChannel.from_url(f"smtp://shop:nope@127.0.0.1:{port}?starttls=1&verify=0&timeout=5")

    sent, refused = await good.send(make_email()), await bad.send(make_email())
    await good.close()
    await bad.close()
    server.close()
    await server.wait_closed()

    assert sent.outcome is SendOutcome.SENT
    assert (refused.outcome, refused.code) == (SendOutcome.TEMPORARY, 535)
    assert [e.rcpt_tos for e in recorder.envelopes] == [["hanako@example.jp"]]


async def test_implicit_tls_with_a_verified_certificate(certificate: tuple[Path, Path]) -> None:
    recorder = _Recorder()
    server = await _aiosmtpd(recorder, _server_context(certificate))
    port = server.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    channel = SmtpChannel(host="127.0.0.1", port=port, use_tls=True, tls_context=trusting, timeout=5)
    untrusting = SmtpChannel.from_url(f"smtps://127.0.0.1:{port}?timeout=5")

    sent, unverified = await channel.send(make_email()), await untrusting.send(make_email())
    await channel.close()
    await untrusting.close()
    server.close()
    await server.wait_closed()

    assert sent.outcome is SendOutcome.SENT
    assert len(recorder.envelopes) == 1
    assert unverified.outcome is SendOutcome.TEMPORARY
    assert "CERTIFICATE_VERIFY_FAILED" in unverified.detail

"""Test-side signing for the providers' webhooks, and a loopback HTTP server standing in for SNS
(serving the signing certificate and answering subscription confirmations)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from afterorder.feedback.ses import canonical

FIXTURES = Path(__file__).parent / "fixtures" / "esp"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeSns:
    """A loopback HTTP server: GET /cert.pem gives the certificate; every request is remembered."""

    key: rsa.RSAPrivateKey
    cert_pem: bytes
    base: str = ""
    requests: list[str] = field(default_factory=list)

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        signed = {**message, "SignatureVersion": version, "SigningCertURL": f"{self.base}/cert.pem"}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signed["Signature"] = base64.b64encode(self.key.sign(canonical(signed), padding.PKCS1v15(), algorithm)).decode()
        return signed

    def allowed(self, url: str) -> bool:
        return url.startswith(self.base + "/")


@cache
def _self_signed() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-west-2.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


@contextmanager
def fake_sns() -> Iterator[FakeSns]:
    key, pem = _self_signed()
    sns = FakeSns(key, pem)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            sns.requests.append(self.path)
            body = pem if self.path == "/cert.pem" else b"<ConfirmSubscriptionResponse/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sns.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield sns
    finally:
        server.shutdown()
        server.server_close()


def sendgrid_private_key() -> ec.EllipticCurvePrivateKey:
    """SendGrid's own published test key (from its Go helper's tests)."""
    der = base64.b64decode(fixture("sendgrid_signed_vector.json")["private_key_sec1_der"])
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def sendgrid_headers(body: bytes, timestamp: str = "1770920772") -> dict[str, str]:
    signature = sendgrid_private_key().sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp, "Content-Type": "application/json"}


MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
# the token and timestamp of Mailgun's "Securing Webhooks" example
MAILGUN_TOKEN, MAILGUN_TIMESTAMP = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123", "1770920772"


def mailgun_body(event_data: dict[str, Any], key: str = MAILGUN_KEY) -> dict[str, Any]:
    signature = hmac.new(key.encode(), (MAILGUN_TIMESTAMP + MAILGUN_TOKEN).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"token": MAILGUN_TOKEN, "timestamp": MAILGUN_TIMESTAMP, "signature": signature},
            "event-data": event_data}

"""Amazon SES bounce, complaint and delivery notifications, delivered by Amazon SNS.

Every SNS message is signed: ``SignatureVersion`` 1 is RSA with SHA-1, 2 is RSA with SHA-256,
over a canonical string of its fields (``Name\\nvalue\\n`` in a fixed order), with the key in the
certificate at ``SigningCertURL``.  That URL must be ``https`` on ``sns.<region>.amazonaws.com``
(checked before anything is fetched), or no certificate is fetched and the request gets 401.
The fetcher and the host check are passed in, so a test can serve its own certificate.

A ``SubscriptionConfirmation`` (sent once when the topic's subscription is created) is verified
and then confirmed by fetching its ``SubscribeURL`` (same host rule).  ``Bounce`` notifications
with ``bounceType: Permanent`` are hard bounces; ``Transient`` / ``Undetermined`` are soft.
``Delivery`` notifications mark the message delivered, found by SES's id for it (``mail.messageId``,
what ``SendEmail`` answered) or by our Message-ID (``mail.commonHeaders.messageId``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from afterorder.domain import EventType
from afterorder.feedback.base import (
    Bounce,
    Feedback,
    StatusReport,
    WebhookRequest,
    address,
    angle,
    delivered,
    iso_time,
    mapping,
    optional_text,
    text,
)
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.intake.limits import Refused, read_json

NAME = "ses"
Fetch = Callable[[str], Awaitable[bytes]]
HostCheck = Callable[[str], bool]
_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def sns_host_allowed(url: str) -> bool:
    """``https://sns.<region>.amazonaws.com/...`` and nothing else (no port, no user info)."""
    parts = urlsplit(url)
    return (parts.scheme == "https" and parts.port is None and "@" not in parts.netloc
            and bool(_SNS_HOST.match(parts.hostname or "")))


async def https_fetch(url: str) -> bytes:
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.content


def configure(topic_arn: list[str] | None = None, **_: Any) -> dict[str, Any]:
    """Optionally, the topic ARNs this store's notifications come from (others get 401)."""
    return {"topic_arns": [t.strip() for t in (topic_arn or []) if t.strip()]}


def canonical(message: dict[str, Any]) -> bytes:
    fields = _NOTIFICATION_FIELDS if message.get("Type") == "Notification" else _SUBSCRIPTION_FIELDS
    return "".join(f"{name}\n{message[name]}\n" for name in fields if name in message).encode("utf-8")


@dataclass
class SnsVerifier:
    fetch: Fetch = https_fetch
    host_allowed: HostCheck = sns_host_allowed
    _certs: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)

    async def _key(self, url: str) -> rsa.RSAPublicKey:
        if not self.host_allowed(url):
            raise Unauthorized(f"SigningCertURL {url!r} is not an https address on sns.<region>.amazonaws.com")
        if url not in self._certs:
            try:
                cert = x509.load_pem_x509_certificate(await self.fetch(url))
            except (httpx.HTTPError, OSError, ValueError) as exc:
                raise Unauthorized(f"the signing certificate could not be fetched or read: {exc}") from None
            key = cert.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise Unauthorized("the signing certificate does not hold an RSA key")
            if len(self._certs) > 32:
                self._certs.clear()
            self._certs[url] = key
        return self._certs[url]

    async def verify(self, message: dict[str, Any]) -> None:
        algorithm = _HASHES.get(str(message.get("SignatureVersion")))
        if algorithm is None:
            raise Unauthorized(f"unknown SNS SignatureVersion {message.get('SignatureVersion')!r}")
        try:
            signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized("the SNS Signature is not base64") from None
        key = await self._key(str(message.get("SigningCertURL") or ""))
        try:
            key.verify(signature, canonical(message), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise Unauthorized("the SNS signature does not match its certificate") from None

    async def parse(self, request: WebhookRequest, settings: dict[str, Any]) -> tuple[Feedback, bool]:
        """What the message reports, and whether it was a subscription confirmed just now."""
        message = request.json()
        if not isinstance(message, dict) or not isinstance(message.get("Type"), str):
            raise Malformed("an SNS message is a JSON object with a Type")
        for name in ("Message", "MessageId", "Timestamp", "TopicArn"):
            text(message.get(name), name)
        await self.verify(message)
        topics = settings.get("topic_arns") or []
        if topics and message["TopicArn"] not in topics:
            raise Unauthorized(f"topic {message['TopicArn']} is not one of this store's SES topics")
        if message["Type"] == "SubscriptionConfirmation":
            url = text(message.get("SubscribeURL"), "SubscribeURL")
            if not self.host_allowed(url):
                raise Unauthorized("SubscribeURL is not an https address on sns.<region>.amazonaws.com")
            try:
                await self.fetch(url)
            except (httpx.HTTPError, OSError) as exc:
                raise Malformed(f"the subscription could not be confirmed: {exc}") from None
            return Feedback(), True
        if message["Type"] != "Notification":
            return Feedback(), False
        return notification_feedback(message), False


def notification_feedback(message: dict[str, Any]) -> Feedback:
    try:
        ses = read_json(str(message["Message"]).encode())
    except Refused:
        raise Malformed("the SNS Message is not an SES notification (not JSON)") from None
    if not isinstance(ses, dict):
        raise Malformed("the SNS Message is not an SES notification")
    kind = ses.get("notificationType") or ses.get("eventType")
    if kind == "Delivery":
        return Feedback(statuses=[delivery(ses, message)])
    return Feedback(bounces=notification_bounces(kind, ses, message))


def delivery(ses: dict[str, Any], message: dict[str, Any]) -> StatusReport:
    mail, done = mapping(ses.get("mail")), ses.get("delivery")
    if not isinstance(done, dict):
        raise Malformed("delivery is missing")
    return delivered(NAME, iso_time(done.get("timestamp") or message["Timestamp"], "delivery.timestamp"),
                     done.get("smtpResponse"), provider_message_id=_ses_id(mail), message_id=_message_id(mail))


def notification_bounces(kind: Any, ses: dict[str, Any], message: dict[str, Any]) -> list[Bounce]:
    mail = mapping(ses.get("mail"))
    message_id, ses_id = _message_id(mail), _ses_id(mail)
    if kind == "Bounce":
        bounce = ses.get("bounce")
        if not isinstance(bounce, dict) or not isinstance(bounce.get("bouncedRecipients"), list):
            raise Malformed("bounce.bouncedRecipients is missing")
        hard = bounce.get("bounceType") == "Permanent"
        at = iso_time(bounce.get("timestamp") or message["Timestamp"], "bounce.timestamp")
        return [Bounce(EventType.MESSAGE_BOUNCED, NAME, message["MessageId"],
                       address(r.get("emailAddress") if isinstance(r, dict) else None, "emailAddress"), hard, at,
                       message_id, " ".join(str(x) for x in (bounce.get("bounceType"), bounce.get("bounceSubType"),
                                                              r.get("diagnosticCode")) if x), message,
                       provider_message_id=ses_id)
                for r in bounce["bouncedRecipients"]]
    if kind == "Complaint":
        complaint = ses.get("complaint")
        if not isinstance(complaint, dict) or not isinstance(complaint.get("complainedRecipients"), list):
            raise Malformed("complaint.complainedRecipients is missing")
        at = iso_time(complaint.get("timestamp") or message["Timestamp"], "complaint.timestamp")
        return [Bounce(EventType.MESSAGE_COMPLAINED, NAME, message["MessageId"],
                       address(r.get("emailAddress") if isinstance(r, dict) else None, "emailAddress"), True, at,
                       message_id, str(complaint.get("complaintFeedbackType") or "complaint"), message,
                       provider_message_id=ses_id)
                for r in complaint["complainedRecipients"]]
    return []


def _ses_id(mail: dict[str, Any]) -> str | None:
    """SES's id for the message (what ``SendEmail`` answered)."""
    return optional_text(mail.get("messageId"))


def _message_id(mail: dict[str, Any]) -> str | None:
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and isinstance(common.get("messageId"), str):
        return angle(common["messageId"])
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return angle(str(header.get("value") or ""))
    return None

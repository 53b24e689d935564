"""Twilio: ``POST /webhooks/twilio/{store}``, the URL given as the ``StatusCallback`` of the store's
messages and as the incoming-message webhook of its number (or Messaging Service).

Verified first, as Twilio's own validator does: ``X-Twilio-Signature`` is
base64(HMAC-SHA1(auth token, URL + every POST parameter's name and value, sorted by name; a
name's values sorted, exact repeats dropped)), where the URL is the one Twilio called, query
included, tried without its port and with the scheme's default port.  Behind a proxy the URL
Twilio signed is the public one, so it is built from afterorder's configured base URL
(``base_url``), never from the request's Host.  The ``auth_token`` is the store's Twilio channel
setup's; a missing or wrong signature gets 401 and nothing is applied.

Then the body (form-encoded) is one of:

* a status callback (``MessageSid``, ``MessageStatus``, ``ErrorCode``, ``To``) → the message whose
  ``outbox.provider_message_id`` is that sid gets the status; ``undelivered`` / ``failed`` with a
  permanent error (``PERMANENT``: the number does not exist or cannot take SMS, or its owner
  replied STOP) is also recorded as a hard bounce of that number (a ``message.bounced`` event, as
  the email receivers record theirs, which suppresses the number);
* an incoming SMS (``From``, ``Body``) → ``feedback/sms_replies.py``: STOP, START, HELP.

The answer is TwiML: empty, or ``<Response><Message>…</Message></Response>`` for HELP.  Twilio's
own samples of these bodies are not among the fixtures; the parameter names follow Twilio's
webhook reference, the error codes its error dictionary.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels.setup import ProviderSetup
from afterorder.clock import Clock
from afterorder.domain import EventType
from afterorder.feedback import sms_replies
from afterorder.feedback.base import Bounce, DeliveryStatus, Feedback, StatusReport, WebhookRequest
from afterorder.feedback.receiver import Received, SealerOf, find_store, provider_setups, store_feedback
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.intake.pipeline import Intake

NAME = "twilio"
SIGNATURE = "x-twilio-signature"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
STATUSES = {
    "accepted": DeliveryStatus.QUEUED, "scheduled": DeliveryStatus.QUEUED, "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENT, "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED, "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED, "failed": DeliveryStatus.FAILED, "canceled": DeliveryStatus.FAILED,
}
PERMANENT = {  # error codes that say this number will never take the store's SMS
    "21211": "invalid 'To' phone number",
    "21610": "the recipient replied STOP",
    "21614": "'To' is not a mobile number",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
Params = Sequence[tuple[str, str]]


# ---- the signature ---------------------------------------------------------------------------


def signed_string(url: str, params: Params) -> str:
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    return url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def signature(auth_token: str, url: str, params: Params) -> str:
    digest = hmac.new(auth_token.encode(), signed_string(url, params).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_forms(url: str) -> list[str]:
    """The URL without its port and with the scheme's default port (Twilio signs either)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    user = parts.netloc.rpartition("@")[0]
    prefix = f"{user}@" if user else ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    bare = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}"))
    return [bare, with_port]


def verify(url: str, params: Params, given: str, setups: Sequence[ProviderSetup]) -> ProviderSetup:
    """The setup whose auth token signed the request; ``Unauthorized`` when none did."""
    if not given.strip():
        raise Unauthorized(f"the {SIGNATURE} header is missing")
    for setup in setups:
        for form in url_forms(url):
            if hmac.compare_digest(signature(setup.secrets["auth_token"], form, params).encode(),
                                   given.strip().encode()):
                return setup
    raise Unauthorized(f"{SIGNATURE} does not match this store's Twilio auth token for {url}")


def public_url(base_url: str, store_slug: str, query: str) -> str:
    """The URL Twilio was given for this store: afterorder's public base URL, this route, the query."""
    url = f"{base_url.rstrip('/')}/webhooks/twilio/{quote(store_slug, safe='')}"
    return f"{url}?{query}" if query else url


# ---- reading -------------------------------------------------------------------------------------


def read_form(request: WebhookRequest) -> list[tuple[str, str]]:
    kind = request.headers.get("content-type", "application/x-www-form-urlencoded").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Malformed(f"Twilio posts application/x-www-form-urlencoded, not {kind}")
    try:
        return parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(request.body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"the body is not a form: {exc}") from None


@dataclass(frozen=True)
class StatusCallback:
    sid: str
    status: str  # as Twilio said it
    error_code: str
    to: str

    @property
    def delivery(self) -> DeliveryStatus | None:
        return STATUSES.get(self.status)

    @property
    def permanent(self) -> bool:
        return self.delivery in (DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED) and self.error_code in PERMANENT


@dataclass(frozen=True)
class IncomingSms:
    sid: str
    phone: str  # From
    body: str


def read(params: Params) -> StatusCallback | IncomingSms:
    fields = dict(params)
    if "Body" in fields:
        phone = fields.get("From", "").strip()
        if not E164.match(phone):
            raise Malformed(f"From is not an E.164 phone number: {phone[:32]!r}")
        return IncomingSms(fields.get("MessageSid", ""), phone, fields["Body"])
    if "MessageStatus" not in fields:
        raise Malformed("neither a status callback (MessageStatus) nor an incoming message (Body, From)")
    sid = fields.get("MessageSid", "").strip()
    if not sid:
        raise Malformed("MessageSid is missing")
    return StatusCallback(sid, fields["MessageStatus"].strip().lower(), fields.get("ErrorCode", "").strip(),
                          fields.get("To", "").strip())


def status_feedback(callback: StatusCallback, params: Params, now: datetime) -> Feedback:
    """The status for the message and, for a permanent failure, the number's hard bounce."""
    if callback.delivery is None:
        return Feedback()  # a status this code does not know: accepted, nothing changes
    detail = " ".join(x for x in (callback.status, callback.error_code, PERMANENT.get(callback.error_code, "")) if x)
    report = StatusReport(NAME, callback.delivery, now, provider_message_id=callback.sid, detail=detail)
    if not callback.permanent:
        return Feedback(statuses=[report])
    if not E164.match(callback.to):
        raise Malformed(f"To is not an E.164 phone number: {callback.to[:32]!r}")
    bounce = Bounce(EventType.MESSAGE_BOUNCED, NAME, f"{callback.sid}:{callback.status}", callback.to, True, now,
                    None, detail, dict(params), provider_message_id=callback.sid)
    return Feedback([bounce], [report])


def twiml(message: str | None) -> str:
    if message is None:
        return EMPTY_TWIML
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(message)}</Message></Response>'


# ---- receiving -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwilioAnswer:
    twiml: str
    received: Received | None = None  # a status callback's
    reply: sms_replies.Reply | None = None  # an incoming SMS's


@dataclass
class TwilioReceiver:
    engine: AsyncEngine
    intake: Intake
    clock: Clock
    sealer: SealerOf
    base_url: str

    async def receive(self, store_slug: str, query: str, request: WebhookRequest) -> TwilioAnswer:
        store = await find_store(self.engine, store_slug)
        setups = await provider_setups(self.engine, self.sealer, store, NAME, "auth_token")
        params = read_form(request)
        verify(public_url(self.base_url, store_slug, query), params, request.headers.get(SIGNATURE, ""), setups)
        message = read(params)
        now = self.clock.now()
        if isinstance(message, StatusCallback):
            feedback = status_feedback(message, params, now)
            return TwilioAnswer(EMPTY_TWIML, received=await store_feedback(self.engine, self.intake, store, NAME,
                                                                           feedback))
        reply = await sms_replies.handle(self.engine, store, message.phone, message.body, NAME, now)
        return TwilioAnswer(twiml(reply.answer), reply=reply)

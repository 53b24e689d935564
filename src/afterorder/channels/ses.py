"""Amazon SES v2 ``SendEmail`` with raw content: our MIME bytes, as built, signed with SigV4.

``POST {api_base}/v2/email/outbound-emails`` with ``{"Content": {"Raw": {"Data": <base64 of the
MIME>}}, "Destination": {"ToAddresses": [...]}}`` (and ``ConfigurationSetName`` when the store
names one).  SES sends exactly the bytes we built, so the Message-ID, List-Unsubscribe and a DKIM
signature made by delivery reach the recipient unchanged; a retry resends the same bytes.  The
request is signed by botocore's SigV4 signer (service ``ses``, the store's region), never by hand.
``api_base`` defaults to ``https://email.{region}.amazonaws.com``.

200 ``{"MessageId": "..."}`` → SENT, the id kept as the provider's (SES's notifications carry it
as ``mail.messageId``).  Errors are named by the ``x-amzn-ErrorType`` header (``Name:namespace``)
or, failing that, the body's ``__type`` / ``code``; the body's ``message`` says more:

====================================== ==============================================================
error (type, or text of the message)   what it means for the message
====================================== ==============================================================
``TooManyRequestsException``,          TEMPORARY, busy (throttled): the sending rate is exceeded.
``Throttling``, ``ThrottlingException``, SES sends no Retry-After; its rate is per second, so the
"Maximum sending rate exceeded"        delay is 1 s unless the answer gave one
``LimitExceededException``,            TEMPORARY, busy (quota): the 24-hour quota is used up.  It is
"Daily message quota exceeded"         a rolling window (room comes back as a day-old send ages
                                       out), so the message waits an hour; it is never failed
``SendingPausedException``,            TEMPORARY: the account may not send now; the operator must
``AccountSuspendedException``          act (not the message's fault: the message waits for them)
credentials refused: 401/403,          TEMPORARY: the keys, their permissions or the server clock
``SignatureDoesNotMatch``,             are the operator's to fix; the detail says so
``InvalidClientTokenId``,
``AccessDeniedException``, …
``MessageRejected``,                   PERMANENT: SES will not send this message (its content, the
``MailFromDomainNotVerifiedException``, sending domain not verified, a malformed request)
``BadRequestException``,
``NotFoundException``
5xx                                    TEMPORARY, unknown (http.py): SES may have taken it
====================================== ==============================================================
"""

from __future__ import annotations

import base64
import json
import re
from typing import ClassVar

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydantic import Field, field_validator

from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.http import DEFAULT_TIMEOUT, HttpChannel, HttpRequest, body_json, retry_after
from afterorder.channels.options import Provider, ProviderOptions

PATH = "/v2/email/outbound-emails"
SERVICE = "ses"
DEFAULT_API_BASE = "https://email.{region}.amazonaws.com"
THROTTLE_DELAY = 1.0  # seconds: SES's sending rate is per second
QUOTA_DELAY = 3600.0  # seconds: the daily quota is a rolling 24-hour window
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")

THROTTLED = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})
QUOTA = frozenset({"LimitExceededException"})
ACCOUNT = frozenset({"SendingPausedException", "AccountSuspendedException"})
CREDENTIALS = frozenset({
    "SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature", "IncompleteSignatureException",
    "InvalidClientTokenId", "UnrecognizedClientException", "MissingAuthenticationToken",
    "MissingAuthenticationTokenException", "AccessDenied", "AccessDeniedException", "NotAuthorized",
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "OptInRequired",
})
REFUSED = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException",
                     "NotFoundException", "ValidationError", "ValidationException"})
_THROTTLE_TEXT = "maximum sending rate exceeded"
_QUOTA_TEXT = "daily message quota exceeded"


class SesChannel(HttpChannel):
    provider = "ses"

    def __init__(self, *, region: str, credentials: Credentials, configuration_set: str | None = None,
                 api_base: str | None = None, client: httpx.AsyncClient | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(api_base or DEFAULT_API_BASE.format(region=region), client=client, timeout=timeout)
        self.region = region
        self.configuration_set = configuration_set
        self._signer = SigV4Auth(credentials, SERVICE, region)
        # The Host header, as botocore's signer derives it from the URL (lower case, no default port):
        # set on every request, so the signer does not parse the URL twice a message (a third of its CPU)
        self._host = self._signer.headers_to_sign(AWSRequest(method="POST", url=self.api_base + PATH))["host"]

    def request(self, message: OutgoingMessage) -> HttpRequest:
        if not message.recipients:
            raise ValueError("the message has no recipient")
        # The ~20 KB of base64 needs no JSON escaping: it is written in as it is, only the rest through
        # json.dumps (which would walk the whole string; a tenth of an SES request's CPU here).
        rest: dict[str, object] = {"Destination": {"ToAddresses": list(message.recipients)}}
        if self.configuration_set:
            rest["ConfigurationSetName"] = self.configuration_set
        body = b'{"Content":{"Raw":{"Data":"' + base64.b64encode(message.data) + b'"}},' + json.dumps(rest).encode()[1:]
        signed = AWSRequest(method="POST", url=self.api_base + PATH, data=body,
                            headers={"Content-Type": "application/json", "Host": self._host})
        self._signer.add_auth(signed)
        return HttpRequest("POST", PATH, dict(signed.headers.items()), body)

    def read(self, response: httpx.Response, verdict: SendResult) -> SendResult:
        if verdict.outcome is SendOutcome.SENT:
            return _accepted(response, verdict)
        kind, text = _error(response)
        detail = f"ses: {kind or response.status_code}: {text}".rstrip(": ")
        status = response.status_code
        if kind in THROTTLED or _THROTTLE_TEXT in text.lower():
            delay = retry_after(response.headers)
            return SendResult(SendOutcome.TEMPORARY, status, detail, delay if delay is not None else THROTTLE_DELAY,
                              busy=Busy.THROTTLED)
        if kind in QUOTA or _QUOTA_TEXT in text.lower():
            delay = retry_after(response.headers)
            return SendResult(SendOutcome.TEMPORARY, status, detail, delay if delay is not None else QUOTA_DELAY,
                              busy=Busy.QUOTA)
        if kind in ACCOUNT:
            return SendResult(SendOutcome.TEMPORARY, status, f"{detail} (the AWS account may not send: the "
                              "operator must act in the SES console; the message waits)")
        if kind in CREDENTIALS or status in (401, 403):
            return SendResult(SendOutcome.TEMPORARY, status, f"{detail} (the access key, its permissions or the "
                              "server clock: the operator's to fix; the message waits)")
        if kind in REFUSED:
            return SendResult(SendOutcome.PERMANENT, status, detail)
        return SendResult(verdict.outcome, status, detail, verdict.retry_after, verdict.busy, verdict.unknown)


def _accepted(response: httpx.Response, verdict: SendResult) -> SendResult:
    body = body_json(response)
    message_id = body.get("MessageId") if isinstance(body, dict) else None
    if not isinstance(message_id, str) or not message_id:
        return SendResult(SendOutcome.SENT, verdict.code, "ses: accepted (no MessageId in the answer)")
    return SendResult(SendOutcome.SENT, verdict.code, f"ses: accepted {message_id}", provider_id=message_id)


def _error(response: httpx.Response) -> tuple[str, str]:
    """(the error's name, its message) from the x-amzn-ErrorType header and the JSON body."""
    body = body_json(response)
    fields = body if isinstance(body, dict) else {}
    kind = response.headers.get("x-amzn-errortype") or str(fields.get("__type") or fields.get("code") or "")
    kind = kind.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    text = fields.get("message") or fields.get("Message") or ""
    return kind, str(text) if text else " ".join(response.text.split())[:300]


class SesOptions(ProviderOptions):
    """``region`` (``us-east-1``), the IAM user's ``access_key_id`` and ``secret_access_key``, a
    ``session_token`` for temporary credentials, and a ``configuration_set`` for event publishing."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"secret_access_key", "session_token"})
    region: str
    access_key_id: str = Field(min_length=1)
    secret_access_key: str = Field(min_length=1)
    session_token: str | None = None
    configuration_set: str | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (like us-east-1 or ap-northeast-1)")
        return value


def _build(options: SesOptions, client: httpx.AsyncClient | None) -> SesChannel:
    credentials = Credentials(options.access_key_id, options.secret_access_key, options.session_token)
    return SesChannel(region=options.region, credentials=credentials, configuration_set=options.configuration_set,
                      api_base=options.api_base, client=client)


# default_rate: 1 message/s is the only sending rate AWS publishes (the sandbox's); an account out
# of the sandbox has its own (GetAccount → SendQuota.MaxSendRate): set it with --rate.
PROVIDER = Provider("ses", ChannelKind.EMAIL, SesOptions, _build, DEFAULT_API_BASE, default_rate=1.0)

"""A local Amazon SES v2 that checks requests as SES does: ``POST /v2/email/outbound-emails``.

It verifies the SigV4 ``Authorization`` header by computing the signature again with botocore's
signer for the secret of the access key the request names (scope date, region and service ``ses``,
the signed headers, the body's hash), refuses a request more than 15 minutes from its clock, decodes
``Content.Raw.Data`` and records the MIME bytes as accepted (``Accepted.payload``; ``key`` is their
Message-ID).  Answers are SES's own shapes: 200 ``{"MessageId": ...}``; errors with the
``x-amzn-ErrorType`` header naming the error and a JSON body ``{"message": ...}`` (the rest-json
protocol in SES v2's service model, as botocore reads it).

No sample of SES's answers was published with the fixtures: the success and error bodies are built
from the SES v2 API reference (``SendEmail``: its errors and their statuses, as in botocore's
``sesv2`` model) and the signature errors from what SES answers a bad signature (403
``SignatureDoesNotMatch`` with AWS's usual message, as quoted in SDK issue reports).
"""

from __future__ import annotations

import base64
import binascii
import email
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.dev.sinks.base import Accepted, Sink

PATH = "/v2/email/outbound-emails"
SERVICE = "ses"
MAX_SKEW = 15 * 60  # seconds
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.")
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;.\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")


class Refused(Exception):
    """SES refuses the request: ``status``, the error's name, its message."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    """What a SigV4 signature covers: the request as the server received it."""

    method: str
    url: str
    headers: list[tuple[str, str]]  # every header, in order, names as received
    body: bytes


def error(status: int, kind: str, message: str) -> Response:
    """An SES v2 error answer (rest-json: the name in ``x-amzn-ErrorType``, the text in the body)."""
    return JSONResponse({"message": message}, status, headers={"x-amzn-ErrorType": kind,
                                                               "x-amzn-RequestId": str(uuid.uuid4())})


def throttled(retry_after: float | None = None) -> Response:
    """SES's answer when the account's sending rate is exceeded (SES itself sends no Retry-After)."""
    answer = error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
    if retry_after is not None:
        answer.headers["Retry-After"] = f"{retry_after:g}"
    return answer


def signature(request: SignedRequest, signed_headers: list[str], amz_date: str, secret: str, region: str,
              service: str = SERVICE) -> str:
    """The SigV4 signature of ``request`` over ``signed_headers``, computed by botocore's signer."""
    aws = AWSRequest(method=request.method, url=request.url, data=request.body)
    wanted = set(signed_headers)
    for name, value in request.headers:
        if name.lower() in wanted:
            aws.headers[name.lower()] = value  # botocore's headers keep repeats, as the canonical form needs
    aws.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials("-", secret), service, region)
    return signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)


def check_signature(request: SignedRequest, secrets: Mapping[str, str], region: str, now: float,
                    session_token: str | None = None, service: str = SERVICE) -> str:
    """The access key id that signed ``request``; ``Refused`` as SES refuses it otherwise."""
    headers = {name.lower(): value for name, value in request.headers}
    if "authorization" not in headers:
        raise Refused(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
    found = _AUTHORIZATION.match(headers["authorization"].strip())
    if found is None:
        raise Refused(403, "IncompleteSignature", "Authorization header requires 'Credential', 'SignedHeaders' "
                      "and 'Signature' parameters (AWS4-HMAC-SHA256).")
    secret = secrets.get(found["key"])
    if secret is None or (session_token is not None and headers.get("x-amz-security-token") != session_token):
        raise Refused(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
    amz_date = _amz_date(headers, found["date"], now)
    if found["region"] != region:
        raise Refused(403, "SignatureDoesNotMatch", f"Credential should be scoped to a valid region, not "
                      f"'{found['region']}'.")
    if found["service"] != service:
        raise Refused(403, "SignatureDoesNotMatch", f"Credential should be scoped to correct service: '{service}'.")
    signed = found["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise Refused(403, "SignatureDoesNotMatch", "The host and x-amz-date headers must be signed.")
    expected = signature(request, signed, amz_date, secret, region, service)
    if not hmac.compare_digest(expected, found["signature"]):
        raise Refused(403, "SignatureDoesNotMatch", MISMATCH)
    return found["key"]


def _amz_date(headers: Mapping[str, str], scope_date: str, now: float) -> str:
    value = headers.get("x-amz-date", "")
    try:
        at = datetime.strptime(value, AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise Refused(403, "IncompleteSignature", "The request must carry an X-Amz-Date header "
                      "(YYYYMMDDTHHMMSSZ).") from None
    if not value.startswith(scope_date):
        raise Refused(403, "SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from "
                      "ISO-8601 version of date from HTTP.")
    if abs(now - at) > MAX_SKEW:
        earliest = datetime.fromtimestamp(now - MAX_SKEW, UTC).strftime(AMZ_DATE)
        raise Refused(403, "SignatureDoesNotMatch", f"Signature expired: {value} is now earlier than {earliest} "
                      f"({datetime.fromtimestamp(now, UTC).strftime(AMZ_DATE)} - 15 min.)")
    return value


def app(sink: Sink, *, access_key_id: str, secret_access_key: str, region: str = "us-east-1",
        session_token: str | None = None, configuration_sets: frozenset[str] | None = None,
        clock: Callable[[], float] = time.time) -> Starlette:
    """The local SES for one IAM user's keys in ``region``; ``configuration_sets`` None accepts any name."""
    secrets = {access_key_id: secret_access_key}

    async def send_email(request: Request) -> Response:
        seen, trouble = await sink.seen(request)
        if trouble is not None:
            return trouble
        try:
            check_signature(SignedRequest(request.method, str(request.url), request.headers.items(), seen.body),
                            secrets, region, clock(), session_token)
            recipients, raw, fields = _email(seen.body)
            configuration_set = fields.get("ConfigurationSetName")
            if configuration_sets is not None and configuration_set is not None \
                    and configuration_set not in configuration_sets:
                raise Refused(404, "NotFoundException", f"Configuration set <{configuration_set}> does not exist.")
        except Refused as refused:
            return error(refused.status, refused.kind, refused.message)
        message_id = f"0100{uuid.uuid4().hex[:12]}-{uuid.uuid4()}-000000"
        sink.accept(Accepted(seen.at, ", ".join(recipients), message_id, raw, key=_message_id(raw)))
        return JSONResponse({"MessageId": message_id}, headers={"x-amzn-RequestId": str(uuid.uuid4())})

    return Starlette(routes=[Route(PATH, send_email, methods=["POST"])])


def _email(body: bytes) -> tuple[list[str], bytes, dict[str, Any]]:
    """(recipients, raw MIME, the request's fields) of a raw SendEmail request."""
    try:
        fields = json.loads(body)
        data = fields["Content"]["Raw"]["Data"]
        raw = base64.b64decode(data, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Refused(400, "BadRequestException", "Content.Raw.Data must be the base64 of a MIME message.") from None
    destination = fields.get("Destination") or {}
    if not isinstance(destination, dict):
        raise Refused(400, "BadRequestException", "Destination must be an object.")
    recipients = [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(key) or []]
    if not all(isinstance(a, str) and "@" in a for a in recipients):
        raise Refused(400, "BadRequestException", "Destination addresses must be email addresses.")
    if b"\r\n\r\n" not in raw and b"\n\n" not in raw:
        raise Refused(400, "MessageRejected", "The message must have a header and a body, separated by a blank line.")
    message = email.message_from_bytes(raw)
    if not message.get("From"):
        raise Refused(400, "MessageRejected", "Missing required header 'From'.")
    recipients = recipients or [str(a) for k in ("To", "Cc") for a in message.get_all(k, [])]
    if not recipients:
        raise Refused(400, "BadRequestException", "No recipients: Destination is empty and the message has no To.")
    return recipients, raw, fields


def _message_id(raw: bytes) -> str | None:
    found = re.search(rb"^Message-ID:\s*(<[^>\r\n]+>)", raw, re.IGNORECASE | re.MULTILINE)
    return found.group(1).decode("ascii", "replace") if found else None

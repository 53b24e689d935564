"""The one place that turns an HTTP provider's answer into SENT / TEMPORARY(delay) / PERMANENT.

Every HTTP provider (``ses``, ``sendgrid``, ``postmark``, ``line``, ``twilio``, ``aliyun_sms``) is
an :class:`HttpChannel`: it builds one request per message and reads the answer's body for what
only it knows (its message id, its error codes).  What the status and the headers mean is decided
here, once:

========================= =====================================================================
2xx                       SENT
429                       TEMPORARY, busy (throttled), after ``Retry-After`` / ``X-RateLimit-Reset``
503                       TEMPORARY, busy: the provider says it did not take the request
408, 5xx (other)          TEMPORARY, ``unknown``: it may have been processed; retried on the same
                          provider only (its idempotency key drops a repeat), never failed over
4xx (other)               PERMANENT: this message is wrong for this provider; retrying won't help
no connection             TEMPORARY: nothing was sent
sent, then no answer      TEMPORARY, ``unknown``
========================= =====================================================================

A provider refines a verdict with its own body (``read``): Postmark's ``ErrorCode`` 429 inside a
422, SES's ``TooManyRequestsException`` in a 400, Alibaba's ``isv.BUSINESS_LIMIT_CONTROL`` in a 200.
Every provider's base URL is configurable (``api_base``), so staging and tests point at a local
server; connections are kept open and reused (one pool per provider and store), by
``http_transport``'s lean HTTP/1.1 unless the channel is given a client of its own.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from afterorder.channels.base import Busy, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.http_transport import KeepAliveTransport, uses_proxy

DEFAULT_TIMEOUT = 15.0
# Retry-After values beyond this are read as this (a day): a provider's "come back next month"
# is a quota, which the provider module reports as such.
MAX_RETRY_AFTER = 86_400.0
MAX_PATHS = 16  # parsed URLs kept per provider
# What every request carries besides the provider's own headers (httpx's client would add the same,
# bar Accept-Encoding: the answers are a few hundred bytes, not worth compressing)
DEFAULT_HEADERS = {"Accept": "*/*", "User-Agent": f"python-httpx/{httpx.__version__}"}


@dataclass(frozen=True)
class HttpRequest:
    """One provider request: everything but the base URL and the client."""

    method: str
    path: str  # joined to the provider's api_base
    headers: Mapping[str, str]
    content: bytes


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``X-RateLimit-Reset``
    (a Unix time, or seconds when it is small), whichever the provider sent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    value = lowered.get("retry-after")
    if value is not None:
        value = value.strip()
        try:
            return _bounded(float(value))
        except ValueError:
            pass
        try:
            return _bounded(parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    reset = lowered.get("x-ratelimit-reset")
    if reset is not None:
        try:
            seconds = float(reset.strip())
        except ValueError:
            return None
        return _bounded(seconds - now if seconds > 1_000_000_000 else seconds)
    return None


def _bounded(seconds: float) -> float | None:
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def by_status(status: int, headers: Mapping[str, str], detail: str) -> SendResult:
    """The verdict the status and headers give, before a provider reads its body."""
    if 200 <= status < 300:
        return SendResult(SendOutcome.SENT, status, detail)
    if status in (429, 503):  # too many requests; the provider is overloaded
        return SendResult(SendOutcome.TEMPORARY, status, detail, retry_after=retry_after(headers),
                          busy=Busy.THROTTLED)
    if status == 408 or status >= 500:
        return SendResult(SendOutcome.TEMPORARY, status, detail, retry_after=retry_after(headers), unknown=True)
    return SendResult(SendOutcome.PERMANENT, status, detail)


def body_json(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it has none (an error page, an empty body)."""
    try:
        return json.loads(response.content) if response.content else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def short(response: httpx.Response, limit: int = 500) -> str:
    """The answer's body as one line of text, for the attempt's record."""
    text = response.content[: limit * 4].decode("utf-8", "replace")
    return " ".join(text.split())[:limit]


class HttpChannel(ABC):
    """A provider reached over HTTP: ``request`` builds what goes out, ``read`` what came back.

    Every message of this provider for this store goes through one pool of connections (keep-alive,
    HTTP/1.1: ``http_transport``); a test passes a client of its own (with its own transport), or
    points ``api_base`` at a local server."""

    provider: str = ""

    def __init__(self, api_base: str, *, client: httpx.AsyncClient | None = None,
                 timeout: float = DEFAULT_TIMEOUT, concurrency: int = 32) -> None:
        if not api_base.startswith(("http://", "https://")):
            raise ValueError(f"api_base must be an http(s) URL, got {api_base!r}")
        self.api_base = api_base.rstrip("/")
        timeouts = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._own_client = client is None
        if client is None and uses_proxy():  # httpx's own transport honours the environment's proxy
            client = httpx.AsyncClient(timeout=timeouts, follow_redirects=False, limits=httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency))
        self._client = client
        self._transport = KeepAliveTransport(max_connections=concurrency) if client is None else None
        self._timeouts = timeouts.as_dict()
        self._urls: dict[str, httpx.URL] = {}  # path → parsed URL (a provider has a few paths)

    @abstractmethod
    def request(self, message: OutgoingMessage) -> HttpRequest:
        """The request that sends ``message``; raises ``ValueError`` when it cannot be sent at all
        (the message is refused, PERMANENT, with that reason)."""

    def read(self, response: httpx.Response, verdict: SendResult) -> SendResult:
        """Refine the status's verdict from the provider's body.  The default keeps it."""
        return verdict

    async def send(self, message: OutgoingMessage) -> SendResult:
        try:
            outgoing = self.request(message)
        except ValueError as exc:
            return SendResult(SendOutcome.PERMANENT, None, f"{self.provider}: {exc}")
        response = await self.exchange(outgoing)
        if isinstance(response, SendResult):
            return response
        return self.read(response, by_status(response.status_code, response.headers, short(response)))

    async def exchange(self, outgoing: HttpRequest) -> httpx.Response | SendResult:
        """The provider's answer to ``outgoing``, or the TEMPORARY result when none came (a provider
        that sends many messages in one request, Postmark's batch, reads the answer itself)."""
        try:
            return await self._request(outgoing)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return SendResult(SendOutcome.TEMPORARY, None, f"{self.provider} unreachable: {_describe(exc)}")
        except (httpx.HTTPError, OSError) as exc:  # the request went out; whether it was taken is unknown
            return SendResult(SendOutcome.TEMPORARY, None, f"{self.provider}: no answer: {_describe(exc)}",
                              unknown=True)

    async def _request(self, outgoing: HttpRequest) -> httpx.Response:
        if self._transport is None:
            assert self._client is not None
            return await self._client.request(outgoing.method, self.api_base + outgoing.path,
                                              headers=dict(outgoing.headers), content=outgoing.content)
        request = httpx.Request(outgoing.method, self._url(outgoing.path), headers={**DEFAULT_HEADERS,
                                **outgoing.headers}, content=outgoing.content, extensions={"timeout": self._timeouts})
        response = await self._transport.handle_async_request(request)
        await response.aread()
        return response

    def _url(self, path: str) -> httpx.URL:
        """The URL of ``path``, parsed once (httpx takes 0.1 ms to parse one)."""
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.api_base + path)
            if len(self._urls) < MAX_PATHS:
                self._urls[path] = url
        return url

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
        elif self._own_client and self._client is not None:
            await self._client.aclose()


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__

"""What every delivery channel shares: the message it sends, the result it reports, the retry policy.

A channel never raises for a delivery failure; it returns a :class:`SendResult` whose outcome tells
delivery what to do next, and :class:`RetryPolicy` turns that result into a :class:`RetryDecision`.

Three facts about a failed send matter beyond "try again or not", and every provider reports them
the same way:

* ``busy`` — the provider is throttling (429, SES ``Throttling``, LINE's rate limit) or a quota is
  used up (LINE's monthly limit).  Busy is a delay, never a failure: the policy retries it however
  many times it takes, after the provider's own delay (``retry_after``) when it gave one;
* ``unknown`` — the request went out but no answer came back (a timeout, a dropped connection):
  the provider may have accepted it.  Such a message is retried only on the same provider, whose
  idempotency key (Message-ID, ``X-Line-Retry-Key``) can drop the repeat; it never fails over to a
  backup provider, which could not;
* ``provider_id`` — the provider's id for the accepted message, for matching its status callbacks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# The namespace of retry keys: the same Message-ID always gives the same UUID.
_RETRY_KEYS = uuid.UUID("5d2b5c0e-7f55-4c1e-9a53-3f1d7a7f0a11")


class ChannelKind(StrEnum):
    """The ways afterorder reaches a customer.  A message goes out on exactly one."""

    EMAIL = "email"
    LINE = "line"
    SMS = "sms"


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to go, exactly as it was rendered into the outbox.

    ``data`` is the payload of the message's channel: the complete RFC 5322 bytes for email, the
    LINE request's JSON (``{"messages": [...]}``) for LINE, the UTF-8 text for SMS.  ``message_id``
    is the email's ``Message-ID`` header (angle brackets included), and for every channel the
    message's stable identity: a retry resends the same bytes under the same id.
    """

    message_id: str
    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes
    channel: ChannelKind = ChannelKind.EMAIL
    category: str = "transactional"
    # the template the message was rendered from: SMS providers that send only approved templates
    # (Alibaba Cloud) look up its template code by this name
    template: str = ""

    @property
    def retry_key(self) -> str:
        """A UUID derived from the message's id: LINE's ``X-Line-Retry-Key`` accepts only UUIDs."""
        return str(uuid.uuid5(_RETRY_KEYS, self.message_id))

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


class SendOutcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # try again later: server down, busy, 4xx
    PERMANENT = "permanent"  # retrying will not help: 5xx for this message


class Busy(StrEnum):
    THROTTLED = "throttled"  # too many requests now: slow down, try again after the delay
    QUOTA = "quota"  # a quota for a longer period is used up (LINE's monthly limit)


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    code: int | None  # the SMTP (or provider) reply code, None when there was no reply
    detail: str
    retry_after: float | None = None  # seconds, when the provider said how long to wait
    busy: Busy | None = None
    unknown: bool = False  # sent, no answer: the provider may have accepted it
    provider_id: str | None = None  # the provider's id for the accepted message


class Channel(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_seconds: float


_NO_RETRY = RetryDecision(retry=False, delay_seconds=0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff without jitter: attempt n failed temporarily → wait base·factorⁿ⁻¹ (capped).

    With the defaults, 12 attempts spread over about 14 hours (30 s, 1 min, 2 min, … 1 h, 1 h).
    A busy provider is retried without limit, after the delay it asked for (else the backoff): a
    message is never marked failed because a provider was busy.
    """

    base_seconds: float = 30.0
    factor: float = 2.0
    max_delay_seconds: float = 3600.0
    max_attempts: int = 12

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if self.factor < 1:
            raise ValueError("RetryPolicy.factor must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")

    def decide(self, attempt: int, result: SendResult) -> RetryDecision:
        """Decide after ``attempt`` (1-based: the first send is attempt 1) ended with ``result``."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        if result.outcome is not SendOutcome.TEMPORARY:
            return _NO_RETRY
        if result.busy is not None:
            delay = result.retry_after if result.retry_after is not None else self.delay_after(attempt)
            return RetryDecision(retry=True, delay_seconds=max(delay, 0.0))
        if attempt >= self.max_attempts:
            return _NO_RETRY
        delay = self.delay_after(attempt)
        if result.retry_after is not None:
            delay = max(delay, result.retry_after)
        return RetryDecision(retry=True, delay_seconds=delay)

    def delay_after(self, attempt: int) -> float:
        try:
            delay = self.base_seconds * self.factor ** (attempt - 1)
        except OverflowError:
            return self.max_delay_seconds
        return min(delay, self.max_delay_seconds)

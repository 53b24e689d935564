"""What every delivery channel shares: the message it sends, the result it reports, the retry policy.

A channel never raises for a delivery failure; it returns a :class:`SendResult` whose outcome tells
delivery what to do next, and :class:`RetryPolicy` turns that result into a :class:`RetryDecision`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class OutgoingEmail:
    """A message ready to go: envelope plus the complete RFC 5322 bytes, built by the caller.

    ``message_id`` is the value of the message's ``Message-ID`` header (angle brackets included);
    a retry resends the same bytes, so the same Message-ID.
    """

    message_id: str
    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes


class SendOutcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # try again later: server down, busy, 4xx
    PERMANENT = "permanent"  # retrying will not help: 5xx for this message


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    code: int | None  # the SMTP (or provider) reply code, None when there was no reply
    detail: str


class Channel(Protocol):
    async def send(self, email: OutgoingEmail) -> SendResult: ...

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
        if result.outcome is not SendOutcome.TEMPORARY or attempt >= self.max_attempts:
            return _NO_RETRY
        return RetryDecision(retry=True, delay_seconds=self.delay_after(attempt))

    def delay_after(self, attempt: int) -> float:
        try:
            delay = self.base_seconds * self.factor ** (attempt - 1)
        except OverflowError:
            return self.max_delay_seconds
        return min(delay, self.max_delay_seconds)

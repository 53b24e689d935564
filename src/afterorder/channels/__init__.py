"""Delivery channels: one adapter per way of sending, behind the :class:`Channel` protocol."""

from afterorder.channels.base import (
    Channel,
    OutgoingMessage,
    RetryDecision,
    RetryPolicy,
    SendOutcome,
    SendResult,
)
from afterorder.channels.smtp import ChannelClosedError, SmtpChannel

__all__ = [
    "Channel",
    "ChannelClosedError",
    "OutgoingMessage",
    "RetryDecision",
    "RetryPolicy",
    "SendOutcome",
    "SendResult",
    "SmtpChannel",
]

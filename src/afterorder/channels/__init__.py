"""Delivery channels: one adapter per way of sending, behind the :class:`Channel` protocol."""

from afterorder.channels.base import (
    Channel,
    OutgoingMessage,
    RetryDecision,
    RetryPolicy,
    SendOutcome,
    SendResult,
)
from afterorder.channels.devinbox import DevInbox, ReceivedMail
from afterorder.channels.devsmtp import DevSmtpServer, start_dev_smtp
from afterorder.channels.smtp import ChannelClosedError, SmtpChannel

__all__ = [
    "Channel",
    "ChannelClosedError",
    "DevInbox",
    "DevSmtpServer",
    "OutgoingMessage",
    "ReceivedMail",
    "RetryDecision",
    "RetryPolicy",
    "SendOutcome",
    "SendResult",
    "SmtpChannel",
    "start_dev_smtp",
]

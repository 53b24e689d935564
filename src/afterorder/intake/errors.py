"""What an incoming webhook can be refused for: one error tree for the platform intake
(``intake/``) and every provider's feedback receiver (``feedback/``).

Each error carries the HTTP status the sender gets back and a short code for the JSON body;
its message names what is wrong.  Nothing of a refused request is stored.

* :class:`Unauthorized` (401): a missing or forged signature, a wrong token or password;
* :class:`Malformed` (400): the body is not what the sender sends (not JSON, a field missing);
* :class:`UnknownTarget` (404): no such store, platform or provider;
* :class:`NotConfigured` (404): the store exists but has not set this webhook up.

This module imports nothing from afterorder, so any layer may raise these.
"""

from __future__ import annotations


class WebhookError(Exception):
    """A webhook delivery refused; ``status`` is the HTTP status the sender gets back."""

    status = 400
    code = "bad_webhook"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(WebhookError):
    status = 401
    code = "unauthorized"


class Malformed(WebhookError):
    status = 400
    code = "malformed"


class UnknownTarget(WebhookError):
    status = 404
    code = "not_found"


class NotConfigured(UnknownTarget):
    code = "not_configured"

"""The signed tokens of the public pages, each with its own purpose (so one can never be used as
another): unsubscribe, preference centre (link and form) and double opt-in confirmation.

Payloads are short JSON lists, so the unsubscribe token fits in the local part of
``unsubscribe+TOKEN@domain`` (at most 64 characters, RFC 5321 §4.5.3.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from afterorder.signing import BadToken, Signer

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
PREFERENCES_FORM = "preferences-form"
CONFIRM = "confirm-subscription"


@dataclass(frozen=True)
class MessageRef:
    """Which customer a link was sent to, and in which message (the run and step that sent it)."""

    customer_id: int
    run_id: int | None = None
    step: int | None = None

    @property
    def idempotency_key(self) -> str | None:
        return None if self.run_id is None or self.step is None else f"run:{self.run_id}:step:{self.step}"


def _ints(payload: Any, size: int) -> list[int]:
    if (not isinstance(payload, list) or len(payload) != size
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in payload)):
        raise BadToken("the token's payload has the wrong shape")
    return payload


def unsubscribe_token(signer: Signer, ref: MessageRef) -> str:
    """``[customer, run or 0, step + 1 or 0]``: about 40 characters."""
    return signer.sign(UNSUBSCRIBE, [ref.customer_id, ref.run_id or 0, 0 if ref.step is None else ref.step + 1])


def read_unsubscribe(signer: Signer, token: str) -> MessageRef:
    customer, run, step = _ints(signer.verify(UNSUBSCRIBE, token), 3)
    return MessageRef(customer, run or None, step - 1 if step else None)


def token_in_address(address: str) -> str:
    """The token of a ``unsubscribe+TOKEN@domain`` address (``mailto:`` and ``<>`` allowed around it)."""
    bare = address.strip().strip("<>").removeprefix("mailto:").split("?", 1)[0]
    local = bare.rsplit("@", 1)[0]
    prefix, plus, token = local.partition("+")
    if not plus or prefix.lower() != "unsubscribe" or not token:
        raise BadToken("not an unsubscribe+TOKEN@domain address")
    return token


def preferences_token(signer: Signer, customer_id: int) -> str:
    return signer.sign(PREFERENCES, [customer_id])


def read_preferences(signer: Signer, token: str) -> int:
    return _ints(signer.verify(PREFERENCES, token), 1)[0]


def form_token(signer: Signer, customer_id: int, issued: int) -> str:
    """The preference form's hidden field: names the customer and when the form was shown."""
    return signer.sign(PREFERENCES_FORM, [customer_id, issued])


def read_form(signer: Signer, token: str) -> tuple[int, int]:
    customer, issued = _ints(signer.verify(PREFERENCES_FORM, token), 2)
    return customer, issued


def confirm_token(signer: Signer, customer_id: int) -> str:
    return signer.sign(CONFIRM, [customer_id])


def read_confirm(signer: Signer, token: str) -> int:
    return _ints(signer.verify(CONFIRM, token), 1)[0]

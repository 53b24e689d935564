"""What an SMS in the outbox holds, read once for every SMS provider.

The payload is UTF-8 JSON ``{"text": "...", "params": {"name": ..., "store": ..., ...}}`` and
``recipients[0]`` an E.164 number.  Twilio sends ``text``; Alibaba Cloud sends the store's approved
template with ``params``.  A payload that cannot be read is refused (``ValueError``, the channel
makes it PERMANENT) with what is wrong named.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from afterorder.channels.base import OutgoingMessage

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True)
class SmsPayload:
    to: str  # E.164
    text: str
    params: dict[str, str]  # every value as text (template providers take strings only)


def read_sms(message: OutgoingMessage) -> SmsPayload:
    to = message.recipients[0] if message.recipients else ""
    if not _E164.fullmatch(to):
        raise ValueError(f"recipient must be an E.164 phone number (+ and digits), got {to!r}")
    try:
        payload = json.loads(message.data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the SMS payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError('the SMS payload must be {"text": ..., "params": {...}}')
    text, params = payload.get("text", ""), payload.get("params") or {}
    if not isinstance(text, str) or not isinstance(params, dict):
        raise ValueError('the SMS payload must be {"text": "...", "params": {...}}')
    return SmsPayload(to, text, {str(k): _as_text(v) for k, v in params.items()})


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

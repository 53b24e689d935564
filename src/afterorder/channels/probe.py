"""One test message through a store's stored provider setup (``afterorder channels test``).

The message is the channel's own payload, as the outbox would hold it: for email a short MIME
message (``afterorder.channels.email.mime.build_email``) from the store's address; for LINE one text message,
``{"messages": [{"type": "text", "text": ...}]}``; for SMS ``{"text": ..., "params": {}}`` under the
template name given (Alibaba Cloud sends the template code approved for it).  The channel is built
from the stored options exactly as delivery builds it and closed after the one send; the
provider's answer comes back as it is (a :class:`SendResult`).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from html import escape

from afterorder.channels.base import ChannelKind, OutgoingMessage, SendResult
from afterorder.channels.catalog import provider
from afterorder.channels.email.mime import build_email
from afterorder.channels.options import OptionsError
from afterorder.channels.setup import ProviderSetup
from afterorder.domain import RenderedMessage, StoreSnapshot

PROBE_TEMPLATE = "channel-test"
_ADDRESSES = {
    ChannelKind.EMAIL: (re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"), "an email address"),
    # a LINE user id, or for a LINE notification message the SHA-256 hex of an E.164 number
    ChannelKind.LINE: (re.compile(r"U[0-9a-f]{32}|[0-9a-f]{64}"), "a LINE user id (U followed by 32 hex digits)"),
    ChannelKind.SMS: (re.compile(r"\+[1-9][0-9]{6,14}"), "a phone number in E.164 form (+819012345678)"),
}
_TEXTS = {
    "ja": "{store}：afterorder からのテストメッセージです（{provider}）。",
    "zh": "{store}：来自 afterorder 的测试消息（{provider}）。",
    "en": "{store}: a test message from afterorder ({provider}).",
}


def check_address(channel: ChannelKind, to: str) -> str:
    pattern, wanted = _ADDRESSES[channel]
    if not pattern.fullmatch(to.strip()):
        raise OptionsError(f"to: {channel.value} needs {wanted}", {"to": f"{channel.value} needs {wanted}"})
    return to.strip()


def probe_text(store: StoreSnapshot, provider_name: str) -> str:
    text = _TEXTS.get(store.locale.split("-")[0].lower(), _TEXTS["en"])
    return text.format(store=store.name, provider=provider_name)


def probe_message(channel: ChannelKind, store: StoreSnapshot, to: str, provider_name: str, now: datetime,
                  template: str = PROBE_TEMPLATE) -> OutgoingMessage:
    """The test message for ``channel`` to ``to`` (checked with :func:`check_address` first)."""
    text = probe_text(store, provider_name)
    message_id = f"<ao.test.{uuid.uuid4().hex}@{store.email_from.rsplit('@', 1)[-1]}>"
    if channel is ChannelKind.EMAIL:
        rendered = RenderedMessage(subject=text, html=f"<p>{escape(text)}</p>", text=text)
        data = build_email(store, to=to, rendered=rendered, message_id=message_id, category="transactional",
                           date=now)
    elif channel is ChannelKind.LINE:
        data = json.dumps({"messages": [{"type": "text", "text": text}]}, ensure_ascii=False).encode()
    else:
        data = json.dumps({"text": text, "params": {}}, ensure_ascii=False).encode()
    return OutgoingMessage(message_id, store.email_from, (to,), data, channel, "transactional", template)


async def send_probe(setup: ProviderSetup, message: OutgoingMessage) -> SendResult:
    """Send ``message`` through ``setup``'s provider, built as delivery builds it (``OptionsError``
    if the stored options no longer check out)."""
    spec = provider(setup.provider)
    channel = spec.build(spec.check(setup.options()), None)
    try:
        return await channel.send(message)
    finally:
        await channel.close()

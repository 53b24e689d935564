"""The test message of ``afterorder channels test``: each channel's own payload, a checked address."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from afterorder.channels.base import ChannelKind
from afterorder.channels.options import OptionsError
from afterorder.channels.probe import check_address, probe_message
from afterorder.domain import StoreSnapshot

STORE = StoreSnapshot(slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="help@kumo.example",
                      country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")


def test_email_is_a_short_mime_message_from_the_store() -> None:
    message = probe_message(ChannelKind.EMAIL, STORE, "hana@example.jp", "ses", datetime.now(UTC))
    parsed = message_from_bytes(message.data, policy=policy.default)
    assert parsed["To"] == "hana@example.jp" and "雲茶舗" in str(parsed["Subject"]) and "ses" in str(parsed["Subject"])
    assert parsed["Message-ID"] == message.message_id and message.recipients == ("hana@example.jp",)
    assert message.envelope_from == "shop@kumo.example" and b"\r\n" in message.data


def test_line_and_sms_carry_their_outbox_payloads() -> None:
    user = "U" + "0123456789abcdef" * 2
    line = probe_message(ChannelKind.LINE, STORE, user, "line", datetime.now(UTC))
    assert json.loads(line.data) == {"messages": [{"type": "text", "text": line_text(line.data)}]}
    assert line.recipients == (user,) and line.channel is ChannelKind.LINE
    sms = probe_message(ChannelKind.SMS, STORE, "+819012345678", "twilio", datetime.now(UTC),
                        template="order-confirmation")
    body = json.loads(sms.data)
    assert body["params"] == {} and "雲茶舗" in body["text"] and sms.template == "order-confirmation"


def line_text(data: bytes) -> str:
    return str(json.loads(data)["messages"][0]["text"])


@pytest.mark.parametrize(("channel", "wrong"), [(ChannelKind.EMAIL, "hana.example.jp"), (ChannelKind.LINE, "hana"),
                                                (ChannelKind.SMS, "090-1234-5678")])
def test_an_address_of_the_wrong_kind_is_named(channel: ChannelKind, wrong: str) -> None:
    with pytest.raises(OptionsError) as caught:
        check_address(channel, wrong)
    assert list(caught.value.fields) == ["to"] and channel.value in str(caught.value)

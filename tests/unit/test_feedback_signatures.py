"""The providers' published signature vectors, and the pure parts of reading what they send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from urllib.parse import unquote

import pytest

from afterorder.channels.base import ChannelKind
from afterorder.channels.setup import ProviderSetup
from afterorder.feedback import aliyun_sms, line, line_link, sms_replies, twilio
from afterorder.feedback.base import DeliveryStatus, WebhookRequest
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.signing import BadToken, Signer

KEY = "k" * 64


def setup(provider: str, **secrets: str) -> ProviderSetup:
    return ProviderSetup(1, ChannelKind.LINE, "primary", provider, {}, MappingProxyType(secrets), None,
                         datetime.now(UTC))


# ---- LINE ------------------------------------------------------------------------------------------

def test_line_sdk_vector() -> None:
    assert line.signature("channel_secret", b"bodybodybodybody") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    good = setup("line", channel_secret="channel_secret")
    signed = WebhookRequest(b"bodybodybodybody", {"x-line-signature": "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="})
    assert line.verify(signed, [setup("line", channel_secret="another"), good]) is good
    with pytest.raises(Unauthorized, match="does not match"):
        line.verify(WebhookRequest(b"bodybodybodybodY", signed.headers), [good])
    with pytest.raises(Unauthorized, match="missing"):
        line.verify(WebhookRequest(b"bodybodybodybody", {}), [good])


def test_line_events_name_the_field_that_is_wrong() -> None:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    for body, field in (({"events": "x"}, "events list"), ({"events": [1]}, "events[0]"),
                        ({"events": [{"type": "follow", "timestamp": now_ms}]}, "events[0].webhookEventId"),
                        ({"events": [{"type": "follow", "webhookEventId": "e", "timestamp": "soon"}]},
                         "events[0].timestamp"),
                        ({"events": [{"type": "unfollow", "webhookEventId": "e", "timestamp": now_ms}]},
                         "events[0].source.userId"),
                        ({"events": [{"type": "accountLink", "webhookEventId": "e", "timestamp": now_ms,
                                      "source": {"userId": "U1"}}]}, "events[0].link")):
        with pytest.raises(Malformed, match=field.replace("[", r"\[").replace("]", r"\]")):
            line.parse(body)
    parsed = line.parse({"events": [{"type": "beacon"}, {"type": "message", "message": {"type": "sticker"}}]})
    assert parsed.events == [] and parsed.ignored == 2


def test_link_codes_are_found_in_what_the_customer_sends() -> None:
    code = line_link.new_code()
    assert len(code) == 9 and code[4] == "-" and not set(code) & set("01IO")
    assert line_link.find_code(f"LINE連携コード {code}") == code
    assert line_link.find_code(f"line link code {code.lower()}") == code
    assert line_link.find_code("THANK-YOUS") is None and line_link.find_code("hello") is None
    chat = line_link.chat_url("@kumo123", f"LINE連携コード {code}")
    assert chat.startswith("https://line.me/R/oaMessage/%40kumo123/?")
    assert unquote(chat.split("/?", 1)[1]) == f"LINE連携コード {code}"


def test_link_tokens_are_the_stores_and_for_their_purpose() -> None:
    signer = Signer(KEY)
    url = line_link.line_link_url("https://ao.example/", "kumo", signer, 42)
    assert url.startswith("https://ao.example/line/link/kumo/")
    token = url.rsplit("/", 1)[1]
    assert line_link.read_link(signer, token) == 42
    with pytest.raises(BadToken):
        line_link.read_link(Signer("x" * 64), token)
    with pytest.raises(BadToken):
        line_link.read_confirm(signer, token)  # a mail link is no confirm button
    dialog = line_link.dialog_url("NMZTNuVrPTqlr2IF8Bnymkb7rXfYv5EY", "n+o/nce")
    assert dialog == ("https://access.line.me/dialog/bot/accountLink?linkToken=NMZTNuVrPTqlr2IF8Bnymkb7rXfYv5EY"
                      "&nonce=n%2Bo%2Fnce")


# ---- Twilio ------------------------------------------------------------------------------------------

TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
                 ("From", "+14158675309"), ("To", "+18005551212")]


def test_twilio_worked_example() -> None:
    assert twilio.signed_string(TWILIO_URL, TWILIO_PARAMS) == (
        "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234"
        "From+14158675309To+18005551212")
    assert twilio.signature("12345", TWILIO_URL, TWILIO_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    good = setup("twilio", auth_token="12345")
    assert twilio.verify(TWILIO_URL, list(reversed(TWILIO_PARAMS)), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", [good]) is good
    with pytest.raises(Unauthorized):
        twilio.verify(TWILIO_URL, [*TWILIO_PARAMS[:-1], ("To", "+18005551213")], "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                      [good])
    with pytest.raises(Unauthorized, match="missing"):
        twilio.verify(TWILIO_URL, TWILIO_PARAMS, "", [good])


def test_twilio_signs_the_url_with_or_without_its_port() -> None:
    good = setup("twilio", auth_token="12345")
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert twilio.url_forms(TWILIO_URL) == [TWILIO_URL, with_port]
    assert twilio.url_forms(with_port) == [TWILIO_URL, with_port]
    signed_with_port = twilio.signature("12345", with_port, TWILIO_PARAMS)
    assert twilio.verify(TWILIO_URL, TWILIO_PARAMS, signed_with_port, [good]) is good
    assert twilio.verify(with_port, TWILIO_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", [good]) is good


def test_twilio_repeated_parameters_are_sorted_and_deduplicated() -> None:
    assert twilio.signed_string("u", [("b", "2"), ("a", "z"), ("b", "1"), ("b", "2")]) == "uaz" "b1" "b2"


def test_twilio_status_callbacks_and_replies_are_told_apart() -> None:
    status = twilio.read([("MessageSid", "SM1"), ("MessageStatus", "Undelivered"), ("ErrorCode", "30005"),
                          ("To", "+14155550100")])
    assert isinstance(status, twilio.StatusCallback) and status.delivery is DeliveryStatus.UNDELIVERED
    assert status.permanent
    reply = twilio.read([("MessageSid", "SM2"), ("From", "+14155550100"), ("Body", " Stop ")])
    assert isinstance(reply, twilio.IncomingSms) and sms_replies.keyword(reply.body) is sms_replies.Keyword.STOP
    with pytest.raises(Malformed, match="From"):
        twilio.read([("From", "14155550100"), ("Body", "STOP")])
    with pytest.raises(Malformed, match="MessageStatus"):
        twilio.read([("MessageSid", "SM3")])


def test_sms_keywords_are_the_whole_trimmed_body() -> None:
    for body in ("STOP", "stopall", " Unsubscribe\n", "cancel", "END", "quit"):
        assert sms_replies.keyword(body) is sms_replies.Keyword.STOP
    assert sms_replies.keyword("start") is sms_replies.keyword("UNSTOP") is sms_replies.Keyword.START
    assert sms_replies.keyword("help") is sms_replies.keyword("Info") is sms_replies.Keyword.HELP
    assert sms_replies.keyword("please stop") is None and sms_replies.keyword("") is None


def test_twiml_escapes_the_help_text() -> None:
    assert twilio.twiml("Tea & <Co>") == ('<?xml version="1.0" encoding="UTF-8"?>'
                                          "<Response><Message>Tea &amp; &lt;Co&gt;</Message></Response>")


# ---- Alibaba Cloud SmsReport ------------------------------------------------------------------------

def test_smsreport_sample_reads_as_a_delivery_in_china_time() -> None:
    sample = [{"phone_number": "1381111****", "send_time": "2017-01-01 00:00:00",
               "report_time": "2017-01-01 00:00:00", "success": True, "err_code": "DELIVERED",
               "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "12345********", "out_id": "67890**"}]
    [report] = aliyun_sms.parse(WebhookRequest(json.dumps(sample).encode(), {})).statuses
    assert report.status is DeliveryStatus.DELIVERED and report.provider_message_id == "12345********"
    assert report.occurred_at == datetime(2017, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    assert report.detail == "DELIVERED 用户接收成功"
    with pytest.raises(Malformed, match=r"\[0\].biz_id"):
        aliyun_sms.parse(WebhookRequest(b'[{"success": false, "report_time": "2017-01-01 00:00:00"}]', {}))
    with pytest.raises(Malformed, match=r"\[0\].report_time"):
        aliyun_sms.parse(WebhookRequest(b'[{"success": true, "biz_id": "1", "report_time": "yesterday"}]', {}))

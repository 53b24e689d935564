"""Property tests of every receiver that takes input from outside: the platform webhooks (Shopify,
WooCommerce, Saleor, Ecwid, EC-CUBE) and the providers' feedback (SES through SNS, SendGrid, Postmark, Mailgun,
LINE, Twilio, Aliyun SMS), over real HTTP on loopback with a SQLite file (tests/webhook_harness.py).

* any body and any headers, unsigned or signed wrongly: a 2xx or a 4xx, never a 5xx, and not a row
  of any table a receiver writes changes;
* a body signed with the store's secret, whatever it holds (bytes, any JSON, a provider's sample
  with values replaced): a 2xx or a 4xx, never a 5xx.

The examples per test are few (``AFTERORDER_FUZZ_EXAMPLES`` raises them, ``AFTERORDER_FUZZ_RANDOM=1``
stops the derandomizing: ``make fuzz``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afterorder.feedback import line, twilio
from afterorder.intake import eccube, ecwid
from tests.esp_signing import MAILGUN_KEY, fixture, sendgrid_private_key
from tests.platforms import b64_hmac, sample
from tests.webhook_harness import (
    ECCUBE_SECRET,
    ECWID_SECRET,
    LINE_SECRET,
    POSTMARK_AUTH,
    PUBLIC,
    SALEOR_SECRET,
    SHOPIFY_SECRET,
    TOPIC_ARN,
    TWILIO_TOKEN,
    WOO_SECRET,
    Harness,
    webhook_harness,
)

EXAMPLES = int(os.environ.get("AFTERORDER_FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("AFTERORDER_FUZZ_RANDOM") == "1"
PROPERTY = settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---- what is generated -----------------------------------------------------------------------

_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=40) | st.sampled_from(["", "2026-11-22T01:00:00Z", "jane@example.com", "-1", "1e999",
                                                     "9" * 40, "\u0000", "null", "2017-01-01 00:00:00"]))
json_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=16), inner, max_size=5), max_leaves=25)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, samples: list[Any]) -> Any:
    """One of ``samples`` with a few of its values (or whole objects) replaced by anything."""
    value = draw(st.sampled_from(samples))
    leaves = _leaves(value)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(leaves))
        cut = draw(st.integers(0, len(path)))
        try:
            value = _replace(value, path[:cut], draw(json_values))
        except (KeyError, IndexError, TypeError):
            pass
    return value


def bodies(samples: list[Any]) -> st.SearchStrategy[bytes]:
    as_json = (json_values | mutated(samples)).map(lambda v: json.dumps(v, ensure_ascii=False).encode())
    return st.binary(max_size=600) | as_json | as_json.map(lambda b: b[: len(b) // 2])


_HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)
_FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "te", "upgrade"}


def any_headers(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Headers the receiver reads (with any value) and any others; never ones that break HTTP framing."""
    name = st.sampled_from(names) | st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,24}", fullmatch=True)
    return st.dictionaries(name.filter(lambda n: n.lower() not in _FRAMING), _HEADER_VALUE, max_size=6)


# ---- the receivers -----------------------------------------------------------------------------

Request = tuple[str, dict[str, str], bytes]
Signer = Callable[[Harness, bytes, st.DataObject], Request]
Spoiler = Callable[[str, dict[str, str], bytes], Request]


def _body_changed(path: str, headers: dict[str, str], body: bytes) -> Request:
    return path, headers, body + b" "


def _wrong_password(path: str, headers: dict[str, str], body: bytes) -> Request:
    return path, {**headers, "Authorization": "Basic " + base64.b64encode(b"postmark-hook:guess").decode()}, body


def _signed_field_changed(field: str) -> Spoiler:
    """Mailgun's and SNS's signatures cover fields inside the body: one of them changed after signing."""

    def spoil(path: str, headers: dict[str, str], body: bytes) -> Request:
        data = json.loads(body)
        holder = data["signature"] if field == "token" else data
        holder[field] = str(holder.get(field)) + "x"
        return path, headers, json.dumps(data).encode()

    return spoil


def _wrong_token(path: str, headers: dict[str, str], body: bytes) -> Request:
    return path[:-2] + ("AA" if not path.endswith("AA") else "BB"), headers, body


@dataclass(frozen=True)
class Receiver:
    name: str
    path: str  # on the harness (kumo, or harbor for Twilio); the unsigned test posts here
    headers: list[str]  # the headers it reads
    samples: list[Any]
    sign: Signer  # (harness, body, data) → (path, headers, body) as the sender signs them
    # a signed request made to fail its check: by default the body changed after the signature
    # (what an HMAC or a key pair over the body catches)
    spoil: Spoiler = _body_changed


def _platform_topic(data: st.DataObject, topics: list[str]) -> str:
    return data.draw(st.sampled_from(topics) | _HEADER_VALUE.filter(str.strip), label="topic")


def _shopify(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    topic = _platform_topic(data, ["orders/create", "orders/paid", "orders/fulfilled", "orders/cancelled",
                                   "refunds/create", "customers/create", "checkouts/update",
                                   "fulfillments/create", "fulfillment_events/create", "inventory_levels/update",
                                   "products/update", "app/uninstalled"])
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
               "X-Shopify-Hmac-Sha256": b64_hmac(SHOPIFY_SECRET, body), "X-Shopify-Shop-Domain": "kumo.myshopify.com",
               "X-Shopify-Webhook-Id": uuid.uuid4().hex,
               "X-Shopify-Triggered-At": data.draw(st.sampled_from(["2026-11-22T01:00:00.000000Z", "", "soon"]),
                                                   label="triggered")}
    return "/webhooks/shopify/kumo", headers, body


def _woocommerce(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    topic = _platform_topic(data, ["order.created", "order.updated", "order.deleted", "customer.created",
                                   "product.updated", "action.woocommerce_order_refunded"])
    resource, _, event = topic.partition(".")
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": resource,
               "X-WC-Webhook-Event": event, "X-WC-Webhook-Signature": b64_hmac(WOO_SECRET, body),
               "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex, "X-WC-Webhook-Source": "https://shop.example.com/"}
    return "/webhooks/woocommerce/kumo", headers, body


def _saleor(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    event = _platform_topic(data, ["ORDER_CREATED", "ORDER_FULLY_PAID", "ORDER_FULFILLED", "ORDER_CANCELLED",
                                   "ORDER_REFUNDED", "ORDER_FULFILLMENT_UPDATE", "CUSTOMER_CREATED",
                                   "PRODUCT_VARIANT_STOCK_UPDATED"])
    jws = data.draw(st.booleans(), label="jws")
    signature = h.saleor_key.sign(body) if jws else hmac.new(SALEOR_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Saleor-Event": event.lower(), "Saleor-Domain": "shop.example.com",
               "Saleor-Api-Url": h.saleor_api_url, "Saleor-Signature": signature}
    return "/webhooks/saleor/kumo", headers, body


def _ecwid(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    """Ecwid signs ``{eventCreated}.{eventId}`` from inside the body, not the body: those two as the body has them."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    held = payload if isinstance(payload, dict) else {}
    given = ecwid.signature(ECWID_SECRET, held.get("eventCreated"), held.get("eventId"))
    return "/webhooks/ecwid/kumo", {"Content-Type": "application/json", "X-Ecwid-Webhook-Signature": given}, body


def _ecwid_event_changed(path: str, headers: dict[str, str], body: bytes) -> Request:
    """The signed ``eventId`` changed after signing (a body that is no JSON object is refused unread)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return path, headers, body + b" "
    if isinstance(payload, dict):
        payload["eventId"] = f"{payload.get('eventId')}x"
        return path, headers, json.dumps(payload).encode()
    return path, headers, body


def _eccube(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    return ("/webhooks/eccube/kumo", {"Content-Type": "application/json", "X-ECCUBE-URL": "https://shop.example.jp/",
                                      "X-ECCUBE-Signature": eccube.signature(ECCUBE_SECRET, body)}, body)


def _line(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    return ("/webhooks/line/kumo", {"x-line-signature": line.signature(LINE_SECRET, body),
                                    "content-type": "application/json"}, body)


def _sendgrid(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    timestamp = str(int(time.time()))
    signature = sendgrid_private_key().sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return ("/webhooks/esp/sendgrid/kumo", {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature)
                                            .decode(), "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
                                            "Content-Type": "application/json"}, body)


def _postmark(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    auth = base64.b64encode(":".join(POSTMARK_AUTH).encode()).decode()
    return ("/webhooks/esp/postmark/kumo", {"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
            body)


def _mailgun(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    """Mailgun signs a token and a timestamp inside the body: the signed part right, the rest anything."""
    token, stamp = uuid.uuid4().hex, str(int(time.time()))
    signed = {"token": token, "timestamp": stamp,
              "signature": hmac.new(MAILGUN_KEY.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()}
    try:
        event_data = json.loads(body)
    except ValueError:
        event_data = body.decode("latin-1")
    return ("/webhooks/esp/mailgun/kumo", {"Content-Type": "application/json"},
            json.dumps({"signature": signed, "event-data": event_data}).encode())


def _ses(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    """An SNS envelope signed with the loopback SNS's certificate around ``body`` as its Message."""
    kind = data.draw(st.sampled_from(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"])
                     | _HEADER_VALUE, label="Type")
    envelope: dict[str, Any] = {**fixture("sns_notification.json"), "Type": kind,
                                "MessageId": str(uuid.uuid4()), "Message": body.decode("utf-8", "replace"),
                                "TopicArn": data.draw(st.sampled_from([TOPIC_ARN, "arn:aws:sns:x:1:Other", ""]))}
    if kind != "Notification":
        envelope["Token"] = uuid.uuid4().hex
        envelope["SubscribeURL"] = data.draw(st.sampled_from([f"{h.sns.base}/confirm?t=1", "https://evil.example/",
                                                              "not a url"]))
    extra = data.draw(st.dictionaries(st.sampled_from(["Timestamp", "Subject", "SignatureVersion", "Signature"]),
                                      st.text(max_size=30), max_size=1), label="replaced after signing")
    signed = {**h.sns.sign(envelope, data.draw(st.sampled_from(["1", "2"]), label="version")), **extra}
    return "/webhooks/esp/ses/kumo", {"Content-Type": "text/plain; charset=UTF-8"}, json.dumps(signed).encode()


def _aliyun(h: Harness, body: bytes, data: st.DataObject) -> tuple[str, dict[str, str], bytes]:
    return (f"/webhooks/aliyun_sms/kumo/{h.aliyun_token}", {"content-type": "application/json;charset=utf-8"}, body)


def _sms_report(**changes: Any) -> dict[str, Any]:
    return {"phone_number": "1381111****", "send_time": "2017-01-01 00:00:00", "report_time": "2017-01-01 00:00:00",
            "success": True, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1",
            "biz_id": "12345********", "out_id": "67890**", **changes}


def _json_samples(directory: str, *names: str) -> list[Any]:
    return [json.loads(sample(directory, name)) for name in names]


def _line_samples() -> list[Any]:
    base = Path(__file__).parent.parent / "fixtures" / "line"
    return [json.loads((base / n).read_text()) for n in ("webhook_follow.json", "webhook_unfollow.json",
                                                          "webhook_accountLink.json", "webhook_message_text.json",
                                                          "webhook_all_events.line-bot-sdk-python.json")]


RECEIVERS = [
    Receiver("shopify", "/webhooks/shopify/kumo", ["X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Webhook-Id"],
             _json_samples("shopify", "orders_create.sample.json", "refunds_create.sample.json",
                           "inventory_levels_update.sample.json", "checkouts_update.sample.json",
                           "fulfillment_events_create.sample.json"), _shopify),
    Receiver("woocommerce", "/webhooks/woocommerce/kumo",
             ["X-WC-Webhook-Signature", "X-WC-Webhook-Topic", "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Source"],
             _json_samples("woocommerce", "order_created.v3_example.json", "order_updated.v3_example.json"),
             _woocommerce),
    Receiver("saleor", "/webhooks/saleor/kumo", ["Saleor-Signature", "Saleor-Event", "Saleor-Api-Url"],
             _json_samples("saleor", "ORDER_CREATED.json", "ORDER_FULLY_PAID.json", "ORDER_REFUNDED.json",
                           "ORDER_FULFILLMENT_UPDATE.json"), _saleor),
    Receiver("ecwid", "/webhooks/ecwid/kumo", ["X-Ecwid-Webhook-Signature"],
             _json_samples("ecwid", "webhook_order_created.json", "webhook_order_updated.json",
                           "webhook_unfinished_order_created.json", "webhook_order_deleted.legacy_2020.json"),
             _ecwid, _ecwid_event_changed),
    Receiver("eccube", "/webhooks/eccube/kumo", ["X-ECCUBE-Signature", "X-ECCUBE-URL"],
             [*_json_samples("eccube", "webhook_payload.api42_test.json"),
              [{"entity": "order", "id": 12, "action": "updated"},
               {"entity": "customer", "id": 7, "action": "created"}]],
             _eccube),
    Receiver("line", "/webhooks/line/kumo", ["x-line-signature"], _line_samples(), _line),
    Receiver("ses", "/webhooks/esp/ses/kumo", ["x-amz-sns-message-type"],
             [fixture("ses_bounce.json"), fixture("ses_complaint.json")], _ses, _signed_field_changed("MessageId")),
    Receiver("sendgrid", "/webhooks/esp/sendgrid/kumo",
             ["X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"],
             [fixture("sendgrid_events.json")], _sendgrid),
    Receiver("postmark", "/webhooks/esp/postmark/kumo", ["Authorization"],
             [fixture("postmark_bounce.json"), fixture("postmark_spam_complaint.json")], _postmark, _wrong_password),
    Receiver("mailgun", "/webhooks/esp/mailgun/kumo", ["Content-Type"],
             [fixture("mailgun_failed_permanent.json"), fixture("mailgun_complained.json")], _mailgun,
             _signed_field_changed("token")),
    Receiver("aliyun_sms", "/webhooks/aliyun_sms/kumo/not-the-token", ["content-type"],
             [[_sms_report()], [_sms_report(success=False, err_code="MOBILE_NOT_ON_SERVICE")]], _aliyun, _wrong_token),
]
BY_NAME = {r.name: r for r in RECEIVERS}


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with webhook_harness(tmp_path_factory.mktemp("webhooks")) as served:
        yield served


@pytest.fixture(scope="module")
def http(harness: Harness) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=harness.base_url, timeout=30) as client:
        yield client


def answered(response: httpx.Response) -> int:
    assert 200 <= response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        error = response.json()
        assert isinstance(error["error"], str) and isinstance(error["message"], str), error
    return response.status_code


# ---- the properties ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(BY_NAME))
def test_unsigned_or_badly_signed_input_is_refused_and_stores_nothing(harness: Harness, http: httpx.Client,
                                                                      name: str) -> None:
    receiver = BY_NAME[name]

    @PROPERTY
    @given(body=bodies(receiver.samples), headers=any_headers(receiver.headers), data=st.data())
    def prop(body: bytes, headers: dict[str, str], data: st.DataObject) -> None:
        path = receiver.path
        if data.draw(st.booleans(), label="signed with a wrong secret"):
            # the sender's signature on this body, but made with another secret, then the body changed
            path, signed, body = receiver.spoil(*receiver.sign(harness, body, data))
            headers = {**signed, **headers}
        before = harness.fingerprint()
        answered(http.post(path, content=body, headers=headers))
        assert harness.fingerprint() == before, "a request whose signature fails stored something"

    prop()


@pytest.mark.parametrize("name", list(BY_NAME))
def test_signed_garbled_input_never_fails_the_server(harness: Harness, http: httpx.Client, name: str) -> None:
    receiver = BY_NAME[name]

    @PROPERTY
    @given(body=bodies(receiver.samples), data=st.data())
    def prop(body: bytes, data: st.DataObject) -> None:
        path, headers, signed_body = receiver.sign(harness, body, data)
        answered(http.post(path, content=signed_body, headers=headers))

    prop()


@pytest.mark.parametrize("status", ["delivered", "undelivered", "failed", "sent", "queued", "", "nonsense"])
def test_signed_twilio_callbacks_and_replies_never_fail_the_server(harness: Harness, http: httpx.Client,
                                                                   status: str) -> None:
    """Twilio signs the URL it called and the form's fields, not the raw body: the fields are generated."""
    url = f"{PUBLIC}/webhooks/twilio/harbor"
    field = st.sampled_from(["MessageSid", "MessageStatus", "SmsStatus", "From", "To", "Body", "ErrorCode",
                             "AccountSid", "OptOutType", "NumMedia"]) | st.text(max_size=12)

    @PROPERTY
    @given(params=st.lists(st.tuples(field, st.text(max_size=60)), max_size=8),
           sid=st.sampled_from(["SM" + "1" * 32, "SM" + "2" * 32, ""]),
           sender=st.sampled_from(["+14155550100", "+1415555", "", "not a phone"]))
    def prop(params: list[tuple[str, str]], sid: str, sender: str) -> None:
        form = [("MessageSid", sid), ("From", sender), ("To", "+15005550006"), ("AccountSid", "AC" + "0" * 32),
                *([("MessageStatus", status)] if status else []), *params]
        headers = {"content-type": "application/x-www-form-urlencoded",
                   "x-twilio-signature": twilio.signature(TWILIO_TOKEN, url, form)}
        answered(http.post("/webhooks/twilio/harbor", content=urlencode(form).encode(), headers=headers))

    prop()


def test_unsigned_twilio_input_is_refused_and_stores_nothing(harness: Harness, http: httpx.Client) -> None:
    @PROPERTY
    @given(body=st.binary(max_size=400) | st.lists(st.tuples(st.text(max_size=12), st.text(max_size=40)))
           .map(lambda p: urlencode(p).encode()), headers=any_headers(["x-twilio-signature", "content-type"]))
    def prop(body: bytes, headers: dict[str, str]) -> None:
        before = harness.fingerprint()
        answered(http.post("/webhooks/twilio/harbor", content=body, headers=headers))
        assert harness.fingerprint() == before

    prop()


def test_the_harness_stores_what_is_signed(harness: Harness, http: httpx.Client) -> None:
    """The properties above can fail: a correctly signed sample is stored (so 'nothing changed' means
    something), and the same sample with its signature off by one byte is refused."""
    order = json.loads(sample("shopify", "orders_create.sample.json"))
    body = json.dumps({**order, "id": int(time.time() * 1000)}).encode()  # an order no property sent
    path, headers, _ = _shopify(harness, body, _FixedData({"topic": "orders/create", "triggered": ""}))
    before = harness.fingerprint()
    forged = http.post(path, content=body + b" ", headers=headers)
    assert forged.status_code == 401 and harness.fingerprint() == before
    stored = http.post(path, content=body, headers=headers)
    assert stored.status_code == 200 and stored.json()["status"] == "stored"
    assert harness.fingerprint()["events"] != before["events"]
    line_body = json.dumps({"destination": "U0", "events": []}).encode()
    assert http.post("/webhooks/line/kumo", content=line_body,
                     headers={"x-line-signature": line.signature(LINE_SECRET, line_body)}).status_code == 200


class _FixedData:
    """Stands in for hypothesis' data object outside a property: each draw is the one given by its label."""

    def __init__(self, chosen: dict[str, Any]) -> None:
        self.chosen = chosen

    def draw(self, strategy: Any, label: str | None = None) -> Any:
        return self.chosen[label or ""]

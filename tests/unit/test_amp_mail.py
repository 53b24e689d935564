"""The shipping mails of a store with AMP on carry a ``text/x-amp-html`` part between the plain-text
and HTML parts, whose live status block loads the order page's AMP status; the HTML part is the
same bytes as without it; a store with AMP off, a non-https order page and the other messages get
no AMP part; the DKIM signature holds over the three parts; the email APIs read the part back."""

from __future__ import annotations

import email
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message

import dkim
import pytest

from afterorder.channels.base import ChannelKind, OutgoingMessage
from afterorder.channels.mimeparts import read_email
from afterorder.channels.sendgrid import mail_send_body
from afterorder.compliance.dkim import dns_value, generate_key, sign
from afterorder.content import Renderer
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from afterorder.flows.outgoing import ComposeJob, compose
from afterorder.order_page.amp_mail import amp_part
from afterorder.signing import Signer
from afterorder.tracking.links import LinkContext
from afterorder.tracking.settings import TrackingSettings
from tests.library_data import CUSTOMERS, ORDER, STORE

BASE = "https://ao.kumo.example"
PAGE = f"{BASE}/o/kumo/WzExLDAsMjE1NzBd.c2lnbmVkLXRva2VuLXg"
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
LOCALES = ("ja", "zh-Hans", "en")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def job(template: str = "shipping-confirmation", locale: str = "ja", *, amp: bool = True, page: str | None = PAGE,
        tracked: bool = False) -> ComposeJob:
    links = LinkContext(Signer("k" * 40), 1, "run:1:step:0", BASE, "shipping-confirmation", template,
                        TrackingSettings(domains=("example.com",))) if tracked else None
    return ComposeJob(template=template, locale=locale, store=STORE.snapshot(BASE),
                      customer=customer_snapshot(CUSTOMERS[locale]), order=order_snapshot(ORDER), compliance=None,
                      extra={"order_url": page} if page else None, subject=None, links=links,
                      to=CUSTOMERS[locale]["email"], message_id="<ao.1@kumo.example>", category="transactional",
                      date=AT, headers={}, amp=amp)


def leaves(data: str) -> list[Message]:
    return [p for p in email.message_from_string(data).walk() if not p.is_multipart()]


def raw_part(data: str, content_type: str) -> str:
    """The part's bytes as written (headers and base64 body), up to the next boundary."""
    found = re.search(rf"(Content-Type: {re.escape(content_type)};.*?)\r\n--=_ao_", data, re.S)
    assert found is not None, content_type
    return found.group(1)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_shipping_mail_is_plain_then_amp_then_html(renderer: Renderer, locale: str) -> None:
    data = compose(renderer, job(locale=locale)).data
    message = email.message_from_string(data)
    assert message.get_content_type() == "multipart/alternative"
    parts = leaves(data)
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/x-amp-html", "text/html"]
    amp = parts[1].get_payload(decode=True).decode().replace("\r\n", "\n")
    assert amp.startswith("<!doctype html>\n<html ⚡4email data-css-strict") and f'lang="{locale}"' in amp
    assert f'<amp-list src="{PAGE}/amp.json"' in amp and '<template type="amp-mustache">' in amp
    assert "{{#steps}}" in amp and "EE123456789JP" in amp and "京焼 急須" in amp


def test_the_html_part_is_the_same_bytes_with_or_without_amp(renderer: Renderer) -> None:
    for tracked in (False, True):
        with_amp = compose(renderer, job(tracked=tracked)).data
        without = compose(renderer, job(amp=False, tracked=tracked)).data
        assert "text/x-amp-html" in with_amp and "text/x-amp-html" not in without
        assert raw_part(with_amp, "text/html") == raw_part(without, "text/html")
        assert raw_part(with_amp, "text/plain") == raw_part(without, "text/plain")


def test_a_store_with_amp_off_and_other_messages_get_no_amp_part(renderer: Renderer) -> None:
    assert "x-amp-html" not in compose(renderer, job(amp=False)).data
    assert "x-amp-html" not in compose(renderer, job("order-confirmation")).data
    assert "x-amp-html" in compose(renderer, job("international-in-transit", "en")).data
    assert "x-amp-html" in compose(renderer, job("out-for-delivery", "zh-Hans")).data


def test_an_order_page_that_is_not_https_gives_no_amp_part(renderer: Renderer) -> None:
    # AMP for Email loads data from https only: a server reached over http cannot feed the block
    assert "x-amp-html" not in compose(renderer, job(page="http://127.0.0.1:8000/o/kumo/tok.en")).data
    assert "x-amp-html" not in compose(renderer, job(page=None)).data


def test_the_status_shown_until_the_live_block_loads_is_the_order_s_when_sent() -> None:
    amp = amp_part("shipping-confirmation", "en", enabled=True, store=STORE.snapshot(BASE), customer=None,
                   order=order_snapshot(ORDER), order_url=PAGE)
    assert amp is not None
    fallback = amp.split("<div fallback>")[1].split("</div>")[0]
    assert re.findall(r'class="step( done)?( current)?">([^<]+)<', fallback) == [
        (" done", "", "Order placed"), (" done", "", "Payment confirmed"), (" done", " current", "Shipped"),
        ("", "", "Out for delivery"), ("", "", "Delivered")]
    # the out-for-delivery notice is sent because the parcel is out: that is its status when sent
    notice = amp_part("out-for-delivery", "en", enabled=True, store=STORE.snapshot(BASE), customer=None,
                      order=order_snapshot(ORDER), order_url=PAGE)
    assert notice is not None and "Your order arrives today" in notice
    fallback = notice.split("<div fallback>")[1].split("</div>")[0]
    assert re.findall(r'class="step( done)?( current)?">([^<]+)<', fallback)[2:] == [
        (" done", "", "Shipped"), (" done", " current", "Out for delivery"), ("", "", "Delivered")]


def test_the_dkim_signature_holds_over_the_amp_mail(renderer: Renderer) -> None:
    key = generate_key("ao1", "kumo.example", bits=1024)
    signed = sign(compose(renderer, job()).data.encode(), key, AT)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"ao1._domainkey.kumo.example."
        return dns_value(key).encode()

    assert dkim.verify(signed, dnsfunc=dns)
    tampered = signed.replace(b"Content-Type: text/x-amp-html", b"Content-Type: text/x-amp-htmx", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_the_email_apis_read_the_amp_part_back_and_sendgrid_sends_it_between(renderer: Renderer) -> None:
    data = compose(renderer, job(locale="en")).data
    parts = read_email(data.encode())
    assert parts.amp is not None and "⚡4email" in parts.amp and parts.text and parts.html
    message = OutgoingMessage("<ao.1@kumo.example>", STORE.email_from, ("emma@example.com",), data.encode(),
                              ChannelKind.EMAIL, "transactional", "shipping-confirmation")
    body = mail_send_body(message, parts)
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/x-amp-html", "text/html"]
    assert replace(parts, amp=None).amp is None  # a mail without the part reads as before
    assert read_email(compose(renderer, job(amp=False)).data.encode()).amp is None

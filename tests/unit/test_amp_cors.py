"""The AMP for Email CORS check of the live status (amp.dev "CORS in AMP for Email"): the store's
own sender is answered with the headers each version expects; anything else is refused, naming the
header or parameter at fault."""

from __future__ import annotations

import pytest

from afterorder.order_page.amp_cors import AmpRefused, AmpRequest, grant

SENDERS = ["shop@kumo.example"]


def test_version_2_echoes_the_sender_whatever_its_case() -> None:
    allowed = grant(AmpRequest("Shop@KUMO.example", None, None), SENDERS)
    assert allowed == {"AMP-Email-Allow-Sender": "Shop@KUMO.example"}


def test_version_1_answers_the_client_s_origin_and_the_source_origin() -> None:
    assert grant(AmpRequest(None, "shop@kumo.example", "https://mail.example.net"), SENDERS) == {
        "Access-Control-Allow-Origin": "https://mail.example.net",
        "AMP-Access-Control-Allow-Source-Origin": "shop@kumo.example",
        "Access-Control-Expose-Headers": "AMP-Access-Control-Allow-Source-Origin"}


def test_version_2_wins_when_both_are_sent() -> None:
    assert grant(AmpRequest("shop@kumo.example", "x@evil.example", "https://mail.example.net"), SENDERS) == {
        "AMP-Email-Allow-Sender": "shop@kumo.example"}


@pytest.mark.parametrize(("request_", "field"), [
    (AmpRequest(None, None, None), "AMP-Email-Sender"),  # no AMP headers at all: an ordinary fetch
    (AmpRequest(None, None, "https://mail.example.net"), "AMP-Email-Sender"),  # Origin alone says nothing
    (AmpRequest("hello@harbor.example", None, None), "AMP-Email-Sender"),  # another store's mail
    (AmpRequest("shop@kumo.example.evil", None, None), "AMP-Email-Sender"),
    (AmpRequest("*", None, None), "AMP-Email-Sender"),
    (AmpRequest("", None, None), "AMP-Email-Sender"),
    (AmpRequest(None, "shop@kumo.example", None), "Origin"),
    (AmpRequest(None, "shop@kumo.example", "https://mail.example.net\r\nX-Evil: 1"), "Origin"),
    (AmpRequest(None, "x@evil.example", "https://mail.example.net"), "__amp_source_origin"),
])
def test_anything_but_the_store_s_own_mail_is_refused(request_: AmpRequest, field: str) -> None:
    with pytest.raises(AmpRefused) as refused:
        grant(request_, SENDERS)
    assert refused.value.field == field and field in str(refused.value)


def test_a_store_without_an_address_allows_no_one() -> None:
    with pytest.raises(AmpRefused):
        grant(AmpRequest("", None, None), [""])

"""The order page's tokens: one order of one store, for a limited time; anything else is refused
the same way.  And the rate limits cover the page and its JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from afterorder.compliance import tokens
from afterorder.order_page.links import VALID_DAYS, OrderRef, order_token, order_url, read_token
from afterorder.signing import BadToken, Signer, new_signing_key
from afterorder.web.rate_limits import target_of

NOW = datetime.now(UTC)


@pytest.fixture
def signer() -> Signer:
    return Signer(new_signing_key())


def test_a_token_names_its_order_and_version(signer: Signer) -> None:
    assert read_token(signer, order_token(signer, 42, 3, NOW), NOW) == OrderRef(42, 3)
    url = order_url("https://ao.example/", "kumo", signer, 42, 3, NOW)
    assert url.startswith("https://ao.example/o/kumo/")
    assert read_token(signer, url.rsplit("/", 1)[1], NOW).order_id == 42


def test_a_token_lasts_its_days_and_no_longer(signer: Signer) -> None:
    token = order_token(signer, 42, 0, NOW)
    assert read_token(signer, token, NOW + timedelta(days=VALID_DAYS - 1)).order_id == 42
    with pytest.raises(BadToken, match="expired"):
        read_token(signer, token, NOW + timedelta(days=VALID_DAYS + 1))


def test_other_stores_purposes_and_shapes_are_refused(signer: Signer) -> None:
    token = order_token(signer, 42, 0, NOW)
    with pytest.raises(BadToken):
        read_token(Signer(new_signing_key()), token, NOW)  # another store's key
    with pytest.raises(BadToken):
        read_token(signer, tokens.preferences_token(signer, 42), NOW)  # signed for another purpose
    for payload in ([42, 0], [42, True, 10**6], {"o": 42}, [42, "0", 10**6]):
        with pytest.raises(BadToken):
            read_token(signer, signer.sign("order-page", payload), NOW)


def test_tokens_of_two_orders_differ_and_are_not_short(signer: Signer) -> None:
    one, two = order_token(signer, 1, 0, NOW), order_token(signer, 2, 0, NOW)
    assert one != two and len(one.split(".")[1]) >= 22  # a 128-bit MAC


def test_the_page_and_its_json_are_rate_limited_as_public_pages() -> None:
    for path in ("/o/kumo/abc.def", "/o/kumo/abc.def.json"):
        target = target_of(path)
        assert target is not None and (target.cls, target.endpoint, target.store) == ("public", "order", "kumo")

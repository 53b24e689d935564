"""Signed tokens: what a link carries survives the round trip; any change is refused."""

from __future__ import annotations

import pytest

from afterorder.signing import BadToken, Signer, new_signing_key


def test_a_token_round_trips_its_payload() -> None:
    signer = Signer(new_signing_key())
    token = signer.sign("unsubscribe", {"c": 42, "m": "order-confirmation", "名": "山田"})
    assert signer.verify("unsubscribe", token) == {"c": 42, "m": "order-confirmation", "名": "山田"}


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),   # MAC changed
    lambda t: ("e" if t[0] != "e" else "f") + t[1:],      # payload changed
    lambda t: t.split(".")[0],                             # MAC removed
    lambda t: "." + t.split(".")[1],                       # payload removed
    lambda t: t + "x",                                     # MAC lengthened
])
def test_an_altered_token_is_refused(tamper: object) -> None:
    signer = Signer(new_signing_key())
    token = signer.sign("click", {"u": "https://shop.example/a"})
    with pytest.raises(BadToken):
        signer.verify("click", tamper(token))  # type: ignore[operator]


def test_a_token_for_another_purpose_or_store_is_refused() -> None:
    key = new_signing_key()
    token = Signer(key).sign("click", {"u": "https://shop.example/a"})
    with pytest.raises(BadToken):
        Signer(key).verify("unsubscribe", token)
    with pytest.raises(BadToken):
        Signer(new_signing_key()).verify("click", token)


def test_a_mac_spelled_with_other_spare_bits_is_refused() -> None:
    """16 MAC bytes are 22 base64 characters; the last carries 2 bits and 4 spare ones."""
    signer = Signer("k" * 64)
    body, mac = signer.sign("click", {"u": "https://shop.example/a"}).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(mac[-1]) ^ 1]
    with pytest.raises(BadToken):
        signer.verify("click", f"{body}.{mac[:-1]}{twin}")

"""A store's link signer from its key as stored: a sealed key signs exactly as the plain one did (links
already sent keep working), is opened once however many messages are signed, and a key the
configured one cannot open is refused naming what to do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from afterorder.db.stores import StoreRow
from afterorder.keys.sealing import Sealer, SealError, new_key
from afterorder.keys.signers import StoreSigners
from afterorder.keys.stored import seal_value
from afterorder.signing import Signer, new_signing_key

PLAIN = new_signing_key()
STORE = StoreRow(id=1, slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="help@kumo.example",
                 country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY", postal_address="",
                 support_email="", support_phone="", support_url="", brand_color="#2d6a4f", logo_url="",
                 api_key_prefix="ao_x", signing_key=PLAIN, created_at=datetime.now(UTC))


class CountingSealer:
    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.asked = 0

    def __call__(self) -> Sealer:
        self.asked += 1
        return self.sealer


def test_a_sealed_key_signs_as_the_plain_one_did_and_is_opened_once() -> None:
    sealer = CountingSealer(Sealer([new_key()]))
    sealed = replace(STORE, signing_key=seal_value(sealer.sealer, PLAIN) or "")
    assert PLAIN not in sealed.signing_key
    signers = StoreSigners(sealer)
    sent = Signer(PLAIN).sign("unsubscribe", {"c": 7})  # a link mailed while the key was plain
    assert signers.of(sealed).verify("unsubscribe", sent) == {"c": 7}
    for _ in range(1000):
        assert signers.of(sealed).sign("unsubscribe", {"c": 7}) == sent
    assert sealer.asked == 1, "opened once, then kept"
    assert signers.of(STORE).sign("unsubscribe", {"c": 7}) == sent, "a plain key (older versions) as it is"


def test_a_key_that_cannot_be_opened_is_refused_naming_the_fix() -> None:
    sealed = replace(STORE, signing_key=seal_value(Sealer([new_key()]), PLAIN) or "")
    with pytest.raises(SealError, match="configure the key they were sealed with"):
        StoreSigners(lambda: Sealer([new_key()])).of(sealed)
    with pytest.raises(SealError, match="no secret key is configured"):
        StoreSigners(None).of(sealed)

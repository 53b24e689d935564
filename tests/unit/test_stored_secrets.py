"""How one stored secret is kept: sealed with a marker, a plain one (an older version's) read as it is."""

from __future__ import annotations

import pytest

from afterorder.keys.sealing import Sealer, SealError, new_key
from afterorder.keys.stored import (
    SEALED,
    DkimKey,
    open_dkim,
    open_esp_settings,
    open_value,
    reseal_value,
    seal_esp_settings,
    seal_value,
)

SECRET = "shpss_a-webhook-secret-of-255-" + "x" * 225


def test_a_sealed_value_opens_only_with_its_key_and_a_plain_one_as_it_is() -> None:
    sealer = Sealer([new_key()])
    stored = seal_value(sealer, SECRET)
    assert stored and stored.startswith(SEALED) and SECRET not in stored
    assert open_value(sealer, stored) == SECRET and open_value(lambda: sealer, stored) == SECRET
    assert seal_value(sealer, stored) == stored, "sealing twice keeps it"
    assert open_value(sealer, SECRET) == SECRET, "plain: read as it is"
    assert seal_value(sealer, None) is None and open_value(sealer, None) is None
    with pytest.raises(SealError, match="configure the key they were sealed with"):
        open_value(Sealer([new_key()]), stored)
    with pytest.raises(SealError, match="no secret key is configured"):
        open_value(None, stored)


def test_resealing_moves_a_value_to_the_first_key() -> None:
    old, new = new_key(), new_key()
    stored = seal_value(Sealer([old]), SECRET) or ""
    moved = reseal_value(Sealer.from_setting(f"{new},{old}"), stored)
    assert open_value(Sealer([new]), moved) == SECRET
    assert open_value(Sealer([new]), reseal_value(Sealer([new]), SECRET)) == SECRET, "a plain one is sealed"
    with pytest.raises(SealError):
        reseal_value(Sealer([new_key()]), stored)


def test_dkim_keys_and_esp_settings_open_only_their_secrets() -> None:
    sealer = Sealer([new_key()])
    key = DkimKey("ao1", "kumo.example", seal_value(sealer, "-----BEGIN PRIVATE KEY-----\nMII\n") or "")
    cache: dict[str, DkimKey] = {}
    opened = open_dkim(key, lambda: sealer, cache)
    assert opened.private_key.startswith("-----BEGIN") and cache[key.private_key] is opened
    assert open_dkim(key, None, cache) is opened, "opened once"
    assert "MII" not in repr(key) and "MII" not in repr(opened)
    settings = seal_esp_settings(sealer, {"signing_key": "key-abc", "topic_arn": ["arn:x"]})
    assert settings["topic_arn"] == ["arn:x"] and settings["signing_key"].startswith(SEALED)
    assert open_esp_settings(sealer, settings) == {"signing_key": "key-abc", "topic_arn": ["arn:x"]}

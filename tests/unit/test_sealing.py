"""Sealing the stores' provider credentials: rotation, wrong keys, the key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from afterorder.keys.sealing import KEY_FILE, Sealer, SealError, new_key, sealer_for

SECRETS = {"channel_access_token": "tok-1234567890", "channel_secret": "shh"}


def test_the_first_key_seals_and_every_key_opens_until_resealed() -> None:
    old, new = new_key(), new_key()
    token = Sealer([old]).seal(SECRETS)
    assert "tok-1234567890" not in token
    rotated = Sealer.from_setting(f"{new}, {old}")
    assert rotated.open(token) == SECRETS
    resealed = rotated.reseal(token)
    assert Sealer([new]).open(resealed) == SECRETS
    with pytest.raises(SealError, match="cannot be opened"):
        Sealer([old]).open(resealed)


def test_a_wrong_key_or_a_broken_one_says_so_without_the_key() -> None:
    token = Sealer([new_key()]).seal(SECRETS)
    other = new_key()
    with pytest.raises(SealError) as wrong:
        Sealer([other]).open(token)
    assert "AFTERORDER_SECRET_KEY" in str(wrong.value) and other not in str(wrong.value)
    with pytest.raises(SealError, match="not a Fernet key") as broken:
        Sealer.from_setting("not-a-key-at-all")
    assert "not-a-key-at-all" not in str(broken.value)
    with pytest.raises(SealError, match="cannot be opened with any key"):
        Sealer([other]).reseal(token)


def test_without_a_configured_key_a_private_key_file_beside_the_database_is_made_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTERORDER_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path}/afterorder.db"
    token = sealer_for(url).seal(SECRETS)
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sealer_for(url).open(token) == SECRETS, "the second use reads the same key"


def test_a_key_file_that_cannot_be_made_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTERORDER_SECRET_KEY", raising=False)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the data folder should be")
    with pytest.raises(SealError, match="cannot read or make the key file"):
        sealer_for(f"sqlite:///{blocked}/data/afterorder.db")

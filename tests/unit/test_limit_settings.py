"""``[limits] max_body_bytes`` and ``[audit] retention_days`` in afterorder.toml: read within their bounds, refused
naming the key past them."""

from __future__ import annotations

from pathlib import Path

import pytest

from afterorder.config import ConfigError, load_settings
from afterorder.intake import limits


@pytest.mark.parametrize("value", [limits.MIN_BODY_BYTES, limits.MAX_BODY_BYTES_SETTING])
def test_a_body_limit_within_bounds_becomes_the_serve_option(tmp_path: Path, value: int) -> None:
    path = tmp_path / "afterorder.toml"
    path.write_text(f"[limits]\nmax_body_bytes = {value}\n")
    assert load_settings(path).option_defaults()["max_body_bytes"] == value


@pytest.mark.parametrize("value", [limits.MIN_BODY_BYTES - 1, limits.MAX_BODY_BYTES_SETTING + 1])
def test_a_body_limit_past_its_bounds_stops_with_the_key(tmp_path: Path, value: int) -> None:
    path = tmp_path / "afterorder.toml"
    path.write_text(f"[limits]\nmax_body_bytes = {value}\n")
    with pytest.raises(ConfigError, match=r"limits\.max_body_bytes"):
        load_settings(path)


@pytest.mark.parametrize("value", [1, 400, 36_500])
def test_the_audit_retention_reaches_serve_and_worker(tmp_path: Path, value: int) -> None:
    import typer

    from afterorder.cli.main import build_app
    from afterorder.config import default_map

    path = tmp_path / "afterorder.toml"
    path.write_text(f"[audit]\nretention_days = {value}\n")
    defaults = default_map(typer.main.get_command(build_app()), load_settings(path).option_defaults())
    assert defaults["serve"]["audit_retention_days"] == value and defaults["worker"]["audit_retention_days"] == value


@pytest.mark.parametrize("value", [0, 36_501])
def test_an_audit_retention_past_its_bounds_stops_with_the_key(tmp_path: Path, value: int) -> None:
    path = tmp_path / "afterorder.toml"
    path.write_text(f"[audit]\nretention_days = {value}\n")
    with pytest.raises(ConfigError, match=r"audit\.retention_days"):
        load_settings(path)

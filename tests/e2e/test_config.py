"""``afterorder.toml``: the operator's settings in one file, checked before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.processes import AFTERORDER


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AFTERORDER_")}
    return subprocess.run([*AFTERORDER, *args], cwd=cwd, env={**environ, **env}, capture_output=True, text=True,
                          timeout=120)


def test_the_file_sets_the_database_and_the_environment_overrides_it(tmp_path: Path) -> None:
    (tmp_path / "afterorder.toml").write_text('database = "sqlite:///./shop.db"\n\n[delivery]\nlease = 30\n')
    created = run(tmp_path, "store", "add", "kumo", "--name", "雲茶舗", "--email-from", "shop@kumo.example")
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "shop.db").is_file() and not (tmp_path / "afterorder-data").exists()
    listed = run(tmp_path, "store", "list", "--json")
    assert [s["slug"] for s in json.loads(listed.stdout)] == ["kumo"]
    elsewhere = run(tmp_path, "store", "list", "--json", AFTERORDER_DATABASE_URL=f"sqlite:///{tmp_path}/other.db")
    assert json.loads(elsewhere.stdout) == []
    flag = run(tmp_path, "store", "list", "--json", "--database", f"sqlite:///{tmp_path}/third.db")
    assert json.loads(flag.stdout) == [] and (tmp_path / "third.db").is_file()


def test_a_mistake_in_the_file_stops_every_command_with_the_key(tmp_path: Path) -> None:
    (tmp_path / "afterorder.toml").write_text(
        'database = "sqlite:///./shop.db"\nworkres = 2\n[delivery]\nlease = "x"\n')
    result = run(tmp_path, "store", "list")
    assert result.returncode == 2
    assert "workres: Extra inputs are not permitted" in result.stderr
    assert "delivery.lease: Input should be a valid number" in result.stderr
    assert not (tmp_path / "shop.db").exists()
    (tmp_path / "afterorder.toml").write_text("database = \n")
    assert "not valid TOML" in run(tmp_path, "store", "list").stderr
    missing = run(tmp_path, "store", "list", AFTERORDER_CONFIG=str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "AFTERORDER_CONFIG names" in missing.stderr

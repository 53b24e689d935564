"""``scripts/test-deps.sh``, which ``make test`` runs first: as a user who is not root it stops at once,
naming the missing package and the command that installs it; as root it installs every missing
package with one ``apt-get install``; with nothing missing it prints nothing and runs no apt-get.

The script runs for real, as ``nobody`` through ``setpriv`` (so these tests need root), with
``AFTERORDER_TEST_DEPS`` naming a package whose probe looks for a command that does not exist.  In
the root cases an ``apt-get`` ahead on PATH writes down how it was called, and marks the packages
it was asked for as installed, instead of touching the machine's packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test-deps.sh"
MISSING = "afterorder-test-missing-package"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setpriv (running the script as nobody) needs root")


@pytest.fixture
def readable_script() -> Iterator[Path]:
    """The script, copied where ``nobody`` can read it (pytest's temporary folders are the owner's only)."""
    with tempfile.TemporaryDirectory(prefix="afterorder-test-deps-") as folder:
        os.chmod(folder, 0o755)
        copy = Path(folder) / SCRIPT.name
        shutil.copy(SCRIPT, copy)
        yield copy


def path_with_apt_get(folder: Path) -> str:
    """PATH with, in front, an ``apt-get`` that appends its arguments to ``folder/calls`` and, on
    ``install``, creates ``folder/<package>.installed`` for each package named."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    apt_get = bin_dir / "apt-get"
    apt_get.write_text(f'#!/bin/sh\necho "$*" >> "{folder}/calls"\n'
                       f'[ "$1" = install ] && for p in "$@"; do touch "{folder}/$p.installed"; done\nexit 0\n')
    apt_get.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_as_a_user_who_is_not_root_it_stops_naming_the_package_and_its_install_command(
        readable_script: Path) -> None:
    deps = f"bash: command -v bash\n{MISSING}: command -v afterorder-no-such-command\n"
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run([*as_nobody, "bash", str(readable_script)], cwd="/", capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"], "AFTERORDER_TEST_DEPS": deps}, timeout=60)
    assert result.returncode != 0
    assert f"missing: {MISSING}\n" in result.stderr  # bash, which is there, is not named
    assert f"sudo apt-get install -y {MISSING}" in result.stderr


def test_with_nothing_missing_it_says_nothing_and_runs_no_apt_get(tmp_path: Path) -> None:
    deps = "bash: command -v bash\ncoreutils: test -x /bin/ls\n"
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                            env={"PATH": path_with_apt_get(tmp_path), "AFTERORDER_TEST_DEPS": deps})
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not (tmp_path / "calls").exists(), "apt-get ran with nothing missing"


def test_as_root_it_installs_every_missing_package_with_one_apt_get_install(tmp_path: Path) -> None:
    deps = (f"bash: command -v bash\npackage-a: test -e {tmp_path}/package-a.installed\n"
            f"package-b: test -e {tmp_path}/package-b.installed\n")
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                            env={"PATH": path_with_apt_get(tmp_path), "AFTERORDER_TEST_DEPS": deps})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "calls").read_text().splitlines() == ["update -qq", "install -y -qq package-a package-b"]
    assert "package-a package-b" in result.stderr  # it says what it installs

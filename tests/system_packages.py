"""What a test does when a Debian package it needs is missing.

``make test`` runs ``scripts/test-deps.sh`` first, which installs these packages as root or stops
naming them, so under ``make test`` they are there.  A test run some other way that finds one
missing skips, its reason naming the package and the command that installs it; under ``CI=true``
it fails instead, since CI runs ``make test`` as root and can install every one of them.
"""

from __future__ import annotations

import os
import subprocess

import pytest


def require(present: bool, what: str, install: str) -> None:
    """Skip (or fail under CI=true) unless ``present``; ``install`` is the command that gets ``what``."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing and CI can install it ({install}; `make test` as root does)", pytrace=False)
    pytest.skip(f"{what} is missing: {install}")


def cjk_font_installed() -> bool:
    """Whether fontconfig, which Chromium draws text through, lists Noto Sans CJK for Japanese."""
    try:
        listed = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return False
    return "Noto Sans CJK" in listed.stdout

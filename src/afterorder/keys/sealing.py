"""Secrets at rest: provider credentials, platform webhook secrets and DKIM keys are stored
encrypted (Fernet: AES-128-CBC with HMAC-SHA256), with a key from configuration, never in the
database (which columns, and old plain values: ``afterorder.keys.stored``).

The key comes from ``--secret-key``, ``AFTERORDER_SECRET_KEY`` or ``secret_key`` in
``afterorder.toml``: one or more Fernet keys separated by commas.  The first seals; every one of
them opens, so a key is rotated by putting the new key first, re-sealing (``afterorder secrets
reseal``), then dropping the old one.  Without a configured key, the key is read from
``secret.key`` in the data folder (beside a SQLite database file, else ``./afterorder-data``), made
there on first use (mode 0600).  Back it up with the database: without it, the stored credentials
cannot be read and must be set again.

Every failure is a :class:`SealError` whose message says which key is at fault and what to do; no
message ever holds a key or a secret.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
KEY_FILE = "secret.key"
DEFAULT_FOLDER = Path("afterorder-data")
CONFIGURED = "the configured secret key (--secret-key, AFTERORDER_SECRET_KEY or secret_key in afterorder.toml)"


class SealError(ValueError):
    """A sealed value cannot be opened with the keys configured, or a key is not a Fernet key."""


class Sealer:
    """Seals and opens small JSON objects (a provider's secret options)."""

    def __init__(self, keys: list[str], source: str = CONFIGURED) -> None:
        if not keys:
            raise SealError(f"{source} is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except (ValueError, TypeError):
            raise SealError(f"{source} holds something that is not a Fernet key (32 url-safe base64 bytes; "
                            "`afterorder channels new-key` makes one)") from None
        self.source = source

    @classmethod
    def from_setting(cls, setting: str, source: str = CONFIGURED) -> Sealer:
        """Keys separated by commas, the sealing one first."""
        return cls([k for k in setting.split(",") if k.strip()], source)

    def seal(self, values: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode("ascii")

    def open(self, token: str) -> dict[str, str]:
        try:
            opened = json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError):
            raise SealError(f"the stored secrets cannot be opened with {self.source}: configure the key they were "
                            "sealed with (after a rotation, the old key after the new one), or set the "
                            "credentials again") from None
        return {str(k): str(v) for k, v in opened.items()}

    def seal_text(self, value: str) -> str:
        """One secret string (a webhook secret, a PEM key) as a Fernet token."""
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open_text(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SealError(f"the stored secrets cannot be opened with {self.source}: configure the key they were "
                            "sealed with (after a rotation, the old key after the new one), or set the "
                            "credentials again") from None

    def reseal(self, token: str) -> str:
        """The same secrets sealed with the first key (after a rotation)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError):
            raise SealError(f"the stored secrets cannot be opened with any key of {self.source}") from None


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_folder(database_url: str) -> Path:
    """Where the key file lives when no key is configured: beside a SQLite file, else ./afterorder-data."""
    try:
        url = make_url(database_url)
    except Exception:  # an unreadable URL fails elsewhere, with its own message
        return DEFAULT_FOLDER
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent
    return DEFAULT_FOLDER


def sealer_for(database_url: str, configured: str | None = None) -> Sealer:
    """The sealer of this installation: the configured key(s) (``configured``, else
    ``AFTERORDER_SECRET_KEY``), else the key file (made if missing)."""
    setting = configured if configured is not None else os.environ.get("AFTERORDER_SECRET_KEY")
    if setting and setting.strip():
        return Sealer.from_setting(setting)
    path = key_folder(database_url) / KEY_FILE
    try:
        if not path.exists():
            _make_key_file(path)
        return Sealer.from_setting(path.read_text().strip(), f"the key file {path}")
    except OSError as exc:
        raise SealError(f"cannot read or make the key file {path} ({exc.strerror}); configure a key with "
                        "AFTERORDER_SECRET_KEY instead (`afterorder channels new-key` makes one)") from None


def _make_key_file(path: Path) -> None:
    """Write a new key whole, then link it into place: a second process starting at the same moment
    finds either no file or the complete one, and the first link wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new_key() + "\n")
    try:
        os.link(draft, path)
        log.warning("made a new secret key for stored credentials at %s: back it up with the database", path)
    except FileExistsError:
        pass
    finally:
        draft.unlink(missing_ok=True)

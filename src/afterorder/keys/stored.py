"""Secrets at rest in the database: which columns hold one, how a sealed value is stored, what
happens to values stored in plain text by older versions, and the one command that re-encrypts
them all after a key rotation.

Sealed with the installation's key (``--secret-key``, ``AFTERORDER_SECRET_KEY``, ``secret_key`` in
afterorder.toml, else the key file beside the database: ``afterorder.keys.sealing``):

* ``platform_connections.secret`` and ``previous_secret``: the Shopify / WooCommerce / Saleor
  webhook secrets (HMAC keys), and ``platform_connections.token``: Ecwid's REST API token, EC-CUBE's
  OAuth2 client secret;
* ``store_compliance.dkim_private_key``: the store's DKIM private key (PEM);
* ``stores.signing_key``: the key of the store's unsubscribe, preference, order-page and survey links
  (opened once per process by ``afterorder.keys.signers``; sealing never changes the key, so links
  already sent keep working);
* ``esp_credentials.settings["signing_key"]``: Mailgun's webhook signing key;
* ``store_channels.secrets``: the providers' credentials (SES, SendGrid, Postmark, LINE, Twilio,
  Alibaba Cloud), one Fernet token of a JSON object (``afterorder.channels.setup``).

A sealed single value is stored as ``sealed:`` followed by a Fernet token (:data:`SEALED`);
:func:`open_value` gives it back.  A value without that prefix was stored in plain text by an
older version: it is still read as it is (webhooks keep verifying, mail keeps being signed), and it
is sealed by ``seal_plain`` (``afterorder.db.sealed_secrets`` walks every column above), which
``afterorder serve`` and ``afterorder worker`` run at start, after the migrations (a migration
cannot know the key), and which ``afterorder secrets reseal`` runs too.  Both are idempotent; a log
line says how many values were sealed, never which.  On SQLite the plain bytes are overwritten
(``secure_delete``) and gone from the file once the write-ahead log is checkpointed (at the latest
when the process stops); on PostgreSQL the old row versions stay in the table files until vacuumed
(``VACUUM FULL platform_connections, store_compliance, esp_credentials, stores`` after the first
start removes them at once).

Rotating the key:

1. ``afterorder secrets new-key`` prints a new key;
2. configure ``NEW,OLD`` (the first key seals, every key opens) and restart serve / the workers;
3. ``afterorder secrets reseal``: every secret above is sealed again with ``NEW`` (plain ones
   too), in one transaction; if any cannot be opened with the configured keys nothing changes
   and the error names each (store and what it is);
4. configure ``NEW`` alone.

A value that cannot be opened (a wrong or missing key) is a :class:`~afterorder.keys.sealing.SealError`
whose message names the key's source and what to do: the CLI prints it, a platform webhook is
answered 503 ``secret_key`` (the platform retries), a DKIM-signed email waits and is retried.
No message, log line or answer ever holds a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from afterorder.keys.sealing import Sealer, SealError

SEALED = "sealed:"
SealerOf = Callable[[], Sealer]  # the installation's sealer, asked for only when a secret is read or written
ESP_SECRETS = ("signing_key",)  # the secret keys of esp_credentials.settings


@dataclass(frozen=True)
class DkimKey:
    """A store's DKIM key as ``store_compliance`` holds it (``private_key`` sealed) or opened."""

    selector: str
    domain: str
    private_key: str = field(repr=False)  # PEM


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED)


def seal_value(sealer: Sealer, value: str | None) -> str | None:
    """``value`` as it is stored: sealed (None stays None; an already sealed value is kept)."""
    if value is None or is_sealed(value):
        return value
    return SEALED + sealer.seal_text(value)


def open_value(sealer: Sealer | SealerOf | None, stored: str | None) -> str | None:
    """A stored value in clear: a sealed one opened, a plain one (an older version's) as it is.

    ``SealError`` when it is sealed and cannot be opened (or no sealer is given)."""
    if stored is None or not is_sealed(stored):
        return stored
    if sealer is None:
        raise SealError("a stored secret is sealed but no secret key is configured here")
    opener = sealer if isinstance(sealer, Sealer) else sealer()
    return opener.open_text(stored[len(SEALED):])


def reseal_value(sealer: Sealer, stored: str) -> str:
    """A stored value sealed with the first key (a plain one is sealed); ``SealError`` if unreadable."""
    if not is_sealed(stored):
        return SEALED + sealer.seal_text(stored)
    return SEALED + sealer.reseal(stored[len(SEALED):])


def open_dkim(key: DkimKey, sealer: SealerOf | None, opened: dict[str, DkimKey] | None = None) -> DkimKey:
    """The DKIM key with its private key in clear (``opened``: a cache by stored value)."""
    if not is_sealed(key.private_key):
        return key
    if opened is not None and key.private_key in opened:
        return opened[key.private_key]
    clear = replace(key, private_key=open_value(sealer, key.private_key) or "")
    if opened is not None:
        opened[key.private_key] = clear
    return clear


def seal_esp_settings(sealer: Sealer, settings: dict[str, Any]) -> dict[str, Any]:
    return {k: seal_value(sealer, v) if k in ESP_SECRETS and isinstance(v, str) else v for k, v in settings.items()}


def open_esp_settings(sealer: Sealer | SealerOf | None, settings: dict[str, Any]) -> dict[str, Any]:
    return {k: open_value(sealer, v) if k in ESP_SECRETS and isinstance(v, str) else v for k, v in settings.items()}

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
is sealed by :func:`seal_plain`, which ``afterorder serve`` and ``afterorder worker`` run at start,
after the migrations (a migration cannot know the key), and which ``afterorder secrets reseal``
runs too.  Both are idempotent; a log line says how many values were sealed, never which.  On
SQLite the plain bytes are overwritten (``secure_delete``) and gone from the file once the
write-ahead log is checkpointed (at the latest when the process stops); on PostgreSQL the old row
versions stay in the table files until vacuumed (``VACUUM FULL platform_connections,
store_compliance, esp_credentials, stores`` after the first start removes them at once).

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

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.schema import esp_credentials, platform_connections, store_channels, store_compliance, stores
from afterorder.keys.sealing import Sealer, SealError

if TYPE_CHECKING:
    from afterorder.compliance.settings import DkimKey

log = logging.getLogger(__name__)
SEALED = "sealed:"
SealerOf = Callable[[], Sealer]  # the installation's sealer, asked for only when a secret is read or written
ESP_SECRETS = ("signing_key",)  # the secret keys of esp_credentials.settings


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


# ---- every stored secret: sealing plain ones, re-sealing after a rotation ----------------------------


@dataclass(frozen=True)
class Place:
    """A text column that holds one secret per row."""

    table: Table
    column: Column[Any]
    keys: tuple[str, ...]  # the row's primary key columns
    what: str  # how the error names it, after the store's slug

    @property
    def store_id(self) -> Column[Any]:
        return self.table.c.id if self.table is stores else self.table.c.store_id


PLACES = (
    Place(platform_connections, platform_connections.c.secret, ("store_id", "platform"), "{platform} webhook secret"),
    Place(platform_connections, platform_connections.c.previous_secret, ("store_id", "platform"),
          "{platform} previous webhook secret"),
    Place(platform_connections, platform_connections.c.token, ("store_id", "platform"), "{platform} API token"),
    Place(store_compliance, store_compliance.c.dkim_private_key, ("store_id",), "DKIM private key"),
    Place(stores, stores.c.signing_key, ("id",), "link signing key"),
)


@dataclass(frozen=True)
class Change:
    table: Table
    where: dict[str, Any]
    values: dict[str, Any]


@dataclass(frozen=True)
class Counts:
    """How many stored secrets a pass sealed (plain before) and re-sealed (sealed before)."""

    sealed: int = 0
    resealed: int = 0
    providers: int = 0  # provider setups (store_channels) re-sealed


async def _changes(conn: AsyncConnection, sealer: Sealer, *, plain_only: bool) -> tuple[list[Change], Counts,
                                                                                         list[str]]:
    changes: list[Change] = []
    sealed = resealed = 0
    unreadable: list[str] = []
    for place in PLACES:
        keys = [place.table.c[k] for k in place.keys]
        extra = [place.table.c.platform] if "platform" in place.keys else []
        query = select(*keys, *extra, place.column.label("value"), stores.c.slug).where(place.column.is_not(None))
        if place.table is not stores:
            query = query.join(stores, stores.c.id == place.store_id)
        rows = await conn.execute(query)
        for r in rows:
            where = {k: getattr(r, k) for k in place.keys}
            if is_sealed(r.value) and plain_only:
                continue
            try:
                value = reseal_value(sealer, r.value)
            except SealError:
                unreadable.append(f"{r.slug} {place.what.format(platform=getattr(r, 'platform', ''))}")
                continue
            sealed, resealed = (sealed, resealed + 1) if is_sealed(r.value) else (sealed + 1, resealed)
            changes.append(Change(place.table, where, {place.column.name: value}))
    rows = await conn.execute(select(esp_credentials.c.store_id, esp_credentials.c.provider, esp_credentials.c.settings,
                                     stores.c.slug).join(stores, stores.c.id == esp_credentials.c.store_id))
    for r in rows:
        settings = dict(r.settings or {})
        new = dict(settings)
        for name in ESP_SECRETS:
            held = settings.get(name)
            if not isinstance(held, str) or (plain_only and is_sealed(held)):
                continue
            try:
                new[name] = reseal_value(sealer, held)
            except SealError:
                unreadable.append(f"{r.slug} {r.provider} {name}")
                continue
            sealed, resealed = (sealed, resealed + 1) if is_sealed(held) else (sealed + 1, resealed)
        if new != settings:
            changes.append(Change(esp_credentials, {"store_id": r.store_id, "provider": r.provider},
                                  {"settings": new}))
    providers = 0
    if not plain_only:  # provider credentials were never stored in plain text
        rows = await conn.execute(select(store_channels.c.store_id, store_channels.c.channel, store_channels.c.role,
                                         store_channels.c.provider, store_channels.c.secrets, stores.c.slug)
                                  .join(stores, stores.c.id == store_channels.c.store_id))
        for r in rows:
            try:
                token = sealer.reseal(r.secrets)
            except SealError:
                unreadable.append(f"{r.slug} {r.provider} credentials ({r.channel}, {r.role})")
                continue
            providers += 1
            changes.append(Change(store_channels, {"store_id": r.store_id, "channel": r.channel, "role": r.role},
                                  {"secrets": token}))
    return changes, Counts(sealed, resealed, providers), sorted(unreadable)


async def _write(conn: AsyncConnection, changes: list[Change]) -> None:
    for change in changes:
        await conn.execute(change.table.update().where(*(change.table.c[k] == v for k, v in change.where.items()))
                           .values(**change.values))


async def seal_plain(conn: AsyncConnection, sealer: Sealer) -> int:
    """Seal every secret an older version stored in plain text; how many were (sealed ones are left)."""
    changes, counts, _ = await _changes(conn, sealer, plain_only=True)
    if changes and conn.dialect.name == "sqlite":  # the plain bytes are overwritten, not left in free space
        await conn.exec_driver_sql("PRAGMA secure_delete = ON")
    await _write(conn, changes)
    if counts.sealed:
        log.info("sealed %d secret(s) an older version had stored in plain text", counts.sealed)
    return counts.sealed


async def reseal_everything(conn: AsyncConnection, sealer: Sealer) -> Counts:
    """Every stored secret sealed again with the first key: platform webhook secrets, DKIM keys,
    Mailgun signing keys, the stores' link signing keys and provider credentials (plain ones
    sealed).  All or nothing: if any cannot be opened, nothing is written and the ``SealError``
    names each."""
    changes, counts, unreadable = await _changes(conn, sealer, plain_only=False)
    if unreadable:
        raise SealError(f"nothing was re-sealed: {', '.join(unreadable)} cannot be opened with any key of "
                        f"{sealer.source}; add the key they were sealed with after the new one")
    await _write(conn, changes)
    return counts


async def unreadable_secrets(conn: AsyncConnection, sealer: Sealer) -> list[str]:
    """What the configured keys cannot open (said at start, so a wrong key is known before a webhook fails)."""
    _, _, unreadable = await _changes(conn, sealer, plain_only=False)
    return unreadable


async def _survey(conn: AsyncConnection) -> tuple[int, int]:
    """(plain values, sealed values and provider setups) stored: read without any key."""
    plain = sealed = 0
    for place in PLACES:
        for (value,) in await conn.execute(select(place.column).where(place.column.is_not(None))):
            plain, sealed = (plain, sealed + 1) if is_sealed(value) else (plain + 1, sealed)
    for (settings,) in await conn.execute(select(esp_credentials.c.settings)):
        for name in ESP_SECRETS:
            value = (settings or {}).get(name)
            if isinstance(value, str):
                plain, sealed = (plain, sealed + 1) if is_sealed(value) else (plain + 1, sealed)
    sealed += int((await conn.execute(select(func.count()).select_from(store_channels))).scalar_one())
    return plain, sealed


async def seal_at_start(engine: AsyncEngine, sealer: SealerOf) -> None:
    """At the start of serve / worker, after the migrations: seal what an older version stored in
    plain text, and say (one log line, naming each, never a secret) what the configured keys cannot
    open.  The key is asked for only when something is stored (no key file is made for nothing)."""
    async with engine.connect() as conn:
        plain, sealed = await _survey(conn)
    if not plain and not sealed:
        return
    try:
        opener = sealer()
        if plain:
            async with engine.begin() as conn:
                await seal_plain(conn, opener)
        if sealed:
            async with engine.connect() as conn:
                unreadable = await unreadable_secrets(conn, opener)
            if unreadable:
                log.error("%s cannot be opened with %s: configure the key they were sealed with (after a "
                          "rotation, the old key after the new one, then `afterorder secrets reseal`), or set "
                          "them again", ", ".join(unreadable), opener.source)
    except SealError as exc:
        log.error("the stored secrets cannot be used: %s", exc)

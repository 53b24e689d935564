"""Every secret stored in the database, as one sweep: sealing the values older versions stored in
plain text (at start), re-sealing them all after a key rotation (``afterorder secrets reseal``), and
naming those no configured key opens.

Which columns hold a secret and how a single value is sealed: ``afterorder.keys.stored``.  The sweep
is all or nothing (one transaction); a log line says how many values were sealed, never which.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.schema import esp_credentials, platform_connections, store_channels, store_compliance, stores
from afterorder.keys.sealing import Sealer, SealError
from afterorder.keys.stored import ESP_SECRETS, SealerOf, is_sealed, reseal_value

log = logging.getLogger(__name__)

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

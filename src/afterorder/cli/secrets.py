"""``afterorder secrets``: the key that seals every stored secret (``new-key``), re-sealing them all
after a key rotation (``reseal``), and which of them the configured key can open (``check``).

What is sealed, how plain values of older versions are handled, and the rotation steps are in
``afterorder.keys.stored``.  Nothing here prints a secret: only what holds one (store, platform,
provider) and counts.  ``afterorder.cli.main`` puts the commands under ``secrets``.
"""

from __future__ import annotations

from typing import Any

import typer

from afterorder.cli.common import Database, SecretKey, fail, run
from afterorder.db.database import DEFAULT_URL
from afterorder.db.sealed_secrets import Counts, reseal_everything, unreadable_secrets
from afterorder.keys.sealing import Sealer, SealError, new_key, sealer_for


def configured_sealer(database: str, secret_key: str | None) -> Sealer:
    try:
        return sealer_for(database, secret_key)
    except SealError as exc:
        raise fail(str(exc)) from None


def reseal_command(database: str, secret_key: str | None) -> None:
    """Seal every stored secret again with the first configured key; print what was done."""
    sealer = configured_sealer(database, secret_key)

    async def work(engine: Any) -> Counts:
        async with engine.begin() as conn:  # one transaction: all or nothing
            return await reseal_everything(conn, sealer)

    try:
        counts = run(database, work)
    except SealError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"re-sealed {counts.resealed} stored secret(s) and {counts.providers} provider setup(s) with the "
               f"first key, sealed {counts.sealed} that were in plain text; the other keys may now be dropped")


def secrets_new_key() -> None:
    """Print a new key for AFTERORDER_SECRET_KEY (rotating: put it first, then `afterorder secrets reseal`)."""
    typer.echo(new_key())


def secrets_reseal(database: Database = DEFAULT_URL, secret_key: SecretKey = None) -> None:
    """After a key rotation: seal every stored secret (platform webhook secrets, provider credentials, DKIM
    keys, Mailgun signing keys) again with the first configured key; plain ones too.  All or nothing."""
    reseal_command(database, secret_key)


def secrets_check(database: Database = DEFAULT_URL, secret_key: SecretKey = None) -> None:
    """Say whether the configured key opens every stored secret (exit 1 naming those it cannot)."""
    sealer = configured_sealer(database, secret_key)

    async def work(engine: Any) -> list[str]:
        async with engine.connect() as conn:
            return await unreadable_secrets(conn, sealer)

    unreadable = run(database, work)
    if unreadable:
        raise fail(f"{', '.join(unreadable)} cannot be opened with {sealer.source}: configure the key they were "
                   "sealed with (after a rotation, the old key after the new one), or set them again")
    typer.echo(f"every stored secret opens with {sealer.source}")

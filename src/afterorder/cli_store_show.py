"""``afterorder store show``: one store as it is set up, its secrets never shown.

A secret appears only as ``"********"`` (set) or ``null`` (not set): platform webhook secrets (and
whether a previous one is kept during a rotation), provider credentials, the DKIM key, Mailgun's
signing key.  Whether the configured key opens them is said per item (``problem``), never with the
value (``afterorder.stored_secrets``).
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.setup import ShownSetup, load_prefs, load_setups
from afterorder.cli import Database, SecretKey, known_store, run, store_app
from afterorder.compliance.settings import load_one
from afterorder.db.database import DEFAULT_URL
from afterorder.db.schema import esp_credentials, platform_connections
from afterorder.feedback.credentials import get_credentials
from afterorder.sealing import Sealer, SealError, sealer_for
from afterorder.stored_secrets import ESP_SECRETS, open_value

MASK = "********"
HIDDEN = (*ESP_SECRETS, "password_sha256")  # never shown, even as a hash


class ShownConnection(TypedDict):
    platform: str
    secret: str | None
    previous_secret: str | None
    api_url: str | None
    problem: str | None


class ShownEsp(TypedDict):
    provider: str
    settings: dict[str, Any]
    problem: str | None


def _problem(sealer: Sealer | None, why: str | None, *stored: str | None) -> str | None:
    """Why the stored values cannot be opened, if they cannot (never a value)."""
    if why is not None:
        return why
    try:
        for value in stored:
            open_value(sealer, value)
    except SealError as exc:
        return str(exc)
    return None


async def shown_store(conn: AsyncConnection, slug: str, sealer: Sealer | None, why: str | None) -> dict[str, Any]:
    """The store as ``store show`` prints it (``why``: the key could not be had at all)."""
    store = await known_store(conn, slug)
    connections = [ShownConnection(platform=r.platform, secret=MASK if r.secret else None,
                                   previous_secret=MASK if r.previous_secret else None, api_url=r.api_url,
                                   problem=_problem(sealer, why, r.secret, r.previous_secret))
                   for r in await conn.execute(select(platform_connections).where(
                       platform_connections.c.store_id == store.id).order_by(platform_connections.c.platform))]
    esps: list[ShownEsp] = []
    for r in await conn.execute(select(esp_credentials.c.provider, esp_credentials.c.settings).where(
            esp_credentials.c.store_id == store.id).order_by(esp_credentials.c.provider)):
        settings = dict(r.settings or {})
        problem = why
        if problem is None:
            try:
                await get_credentials(conn, store.id, r.provider, sealer=sealer)
            except SealError as exc:
                problem = str(exc)
        esps.append(ShownEsp(provider=r.provider, problem=problem,
                             settings={k: MASK if k in HIDDEN else v for k, v in settings.items()}))
    setups: list[ShownSetup] = [s.shown() for s in await load_setups(conn, sealer, [store.id])] if sealer else []
    compliance = await load_one(conn, store.id)
    dkim = compliance.dkim
    return {
        "store": store.public(),
        "connections": connections,
        "channels": {"providers": setups, **(await load_prefs(conn, [store.id]))[store.id].shown(),
                     **({"problem": why} if why else {})},
        "esp_webhooks": esps,
        "dkim": {"selector": dkim.selector, "domain": dkim.domain, "private_key": MASK,
                 "problem": _problem(sealer, why, dkim.private_key)} if dkim else None,
    }


@store_app.command("show")
def store_show(slug: str, database: Database = DEFAULT_URL, secret_key: SecretKey = None) -> None:
    """A store as it is set up (JSON): platform connections, channels, ESP webhooks, DKIM; secrets masked."""
    sealer: Sealer | None = None
    why = None
    try:
        sealer = sealer_for(database, secret_key)
    except SealError as exc:
        why = str(exc)

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.connect() as conn:
            return await shown_store(conn, slug, sealer, why)

    typer.echo(json.dumps(run(database, work), ensure_ascii=False, indent=2))

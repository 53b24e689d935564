"""``afterorder store add | list | connect | show``: the stores (tenants), their API keys, their
connection to Shopify, WooCommerce, Saleor, Ecwid or EC-CUBE (the webhook URL to paste and the topics to subscribe),
and one store as it is set up with its secrets never shown.

``store show`` shows a secret only as ``"********"`` (set) or ``null`` (not set): platform webhook
secrets (and whether a previous one is kept during a rotation), provider credentials, the DKIM key,
Mailgun's signing key.  Whether the configured key opens them is said per item (``problem``), never
with the value (``afterorder.keys.stored``).

The store's other settings are set by the commands of their topic (``compliance``, ``dashboard``,
``privacy``); ``afterorder.cli.main`` puts them all under ``store``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypedDict

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.audit.command_line import by_command
from afterorder.audit.log import Action, Change
from afterorder.audit.sources import key_label
from afterorder.channels.setup import ShownSetup, load_prefs, load_setups
from afterorder.cli.common import Database, SecretKey, fail, known_store, run
from afterorder.cli.secrets import configured_sealer
from afterorder.clock import SystemClock
from afterorder.compliance.settings import load_one
from afterorder.db.database import DEFAULT_URL
from afterorder.db.schema import esp_credentials, platform_connections
from afterorder.db.stores import StoreError, create_store, get_store, list_stores
from afterorder.feedback.credentials import get_credentials
from afterorder.keys.sealing import Sealer, SealError, sealer_for
from afterorder.keys.stored import ESP_SECRETS, open_value

MASK = "********"
HIDDEN = (*ESP_SECRETS, "password_sha256")  # never shown, even as a hash


def store_add(
    slug: str,
    name: Annotated[str, typer.Option(help="the store's name as customers know it")],
    email_from: Annotated[str, typer.Option(help="sender address, e.g. shop@example.jp")],
    reply_to: Annotated[str | None, typer.Option(help="where replies go (a real mailbox)")] = None,
    country: str = "US", locale: str = "en", timezone: str = "UTC", currency: str = "USD",
    postal_address: str = "", support_email: str = "", support_phone: str = "", support_url: str = "",
    brand_color: str = "#1f6feb", logo_url: str = "",
    database: Database = DEFAULT_URL, secret_key: SecretKey = None,
) -> None:
    """Create a store; prints it as JSON with its API key (shown only now).  Its link signing key is
    stored sealed with the configured key."""
    fields = dict(slug=slug, name=name, email_from=email_from, country=country, locale=locale, timezone=timezone,
                  currency=currency, postal_address=postal_address, support_email=support_email,
                  support_phone=support_phone, support_url=support_url, brand_color=brand_color,
                  logo_url=logo_url)
    if reply_to:
        fields["reply_to"] = reply_to

    sealer = configured_sealer(database, secret_key)

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            store, key = await create_store(conn, SystemClock().now(), sealer=sealer, **fields)
            await by_command(conn, store.id, Change(Action.STORE_CREATED, store.slug, {
                "api_key": key_label(store.api_key_prefix)}))
        return {**store.public(), "api_key": key}

    try:
        created = run(database, work)
    except StoreError as exc:
        raise fail(str(exc)) from None
    typer.echo(json.dumps(created, ensure_ascii=False, indent=2))


def store_list(database: Database = DEFAULT_URL,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the stores."""

    async def work(engine: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            return [s.public() for s in await list_stores(conn)]

    found = run(database, work)
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("slug", "name", "from", "country", "locale", "timezone", "currency", "key")
    for s in found:
        table.add_row(s["slug"], s["name"], s["email_from"], s["country"], s["locale"], s["timezone"],
                      s["currency"], s["api_key_prefix"] + "…")
    Console().print(table)


CONNECT_OPTIONS = {"api_url": "--api-url", "secret": "--secret", "client_secret": "--client-secret",
                   "store_id": "--store-id", "token": "--token", "url": "--url", "client_id": "--client-id",
                   "webhook_secret": "--webhook-secret"}


def _as_option(problem: str) -> str:
    """``field: why`` as ``--option: why`` (the problems name the API's fields)."""
    name, _, why = problem.partition(":")
    return f"{CONNECT_OPTIONS.get(name, name)}:{why}"


def store_connect(
    slug: str,
    platform: Annotated[str, typer.Argument(help="shopify, woocommerce, saleor, ecwid or eccube")],
    secret: Annotated[str | None, typer.Option("--secret", "--client-secret",
                                               help="the webhook secret the platform signs with (Ecwid: the "
                                                    "app's client secret; EC-CUBE: the API client's secret)")
                                  ] = None,
    previous_secret: Annotated[str | None, typer.Option(help="a secret still valid during a rotation")] = None,
    keep_previous: Annotated[bool, typer.Option("--keep-previous", help="rotation: keep the current secret too")
                             ] = False,
    api_url: Annotated[str | None, typer.Option(
        "--api-url", "--api-base", help="Saleor: your API URL, e.g. https://shop.example.com/graphql/; Ecwid: the "
                                        "REST API base (default https://app.ecwid.com)")] = None,
    account_id: Annotated[str | None, typer.Option("--store-id", help="Ecwid: your Ecwid store id")] = None,
    token: Annotated[str | None, typer.Option(help="Ecwid: the app's access token (read_orders scope)")] = None,
    url: Annotated[str | None, typer.Option("--url", help="EC-CUBE: the shop's URL")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="EC-CUBE: the API client's id")] = None,
    webhook_secret: Annotated[str | None, typer.Option("--webhook-secret", help="EC-CUBE: the WebHook's secret")
                              ] = None,
    base_url: Annotated[str, typer.Option(envvar="AFTERORDER_BASE_URL",
                                          help="the public URL of this afterorder server")] = "http://127.0.0.1:8000",
    database: Database = DEFAULT_URL,
    secret_key: SecretKey = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Connect a store to Shopify, WooCommerce, Saleor, Ecwid or EC-CUBE; prints the webhook URL to paste and the
    topics.

    The secrets (and Ecwid's token, EC-CUBE's client secret) are stored sealed with the secret key and never
    printed."""
    from afterorder.db.platforms import connect
    from afterorder.intake.platforms import build_adapters, connection_problems, webhook_url

    adapters = build_adapters()
    adapter = adapters.get(platform)
    if adapter is None:
        raise fail(f"no platform called {platform!r}; use one of {', '.join(adapters)}")
    if platform == "eccube":  # the API client's secret is kept as the token, the WebHook's as the secret
        secret, token, account_id, api_url = webhook_secret, secret, client_id, api_url or url
    problems = connection_problems(adapter, secret, api_url, account_id, token)
    if problems:
        raise fail("the store was not connected:\n  " + "\n  ".join(_as_option(p) for p in problems))

    try:
        sealer = sealer_for(database, secret_key)
    except SealError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> bool:
        async with engine.begin() as conn:
            target = await get_store(conn, slug)
            if target is None:
                raise fail(f"no store called {slug!r}")
            made = await connect(conn, target.id, platform, SystemClock().now(), secret=secret, sealer=sealer,
                                 previous_secret=previous_secret, keep_previous=keep_previous, api_url=api_url,
                                 account_id=account_id, token=token)
            await by_command(conn, target.id, Change(Action.PLATFORM_CONNECTED, platform, {
                "api_url": api_url, "secret_rotated": previous_secret is not None or keep_previous}))
        return made.previous_secret is not None

    try:
        kept = run(database, work)
    except SealError as exc:
        raise fail(str(exc)) from None
    url = webhook_url(base_url, platform, slug)
    if as_json:
        typer.echo(json.dumps({"platform": platform, "webhook_url": url, "topics": list(adapter.subscribe),
                               "previous_secret_kept": kept}))
        return
    typer.echo(f"{slug} is connected to {platform}.")
    typer.echo(f"Webhook URL (paste it into {platform}, format JSON):\n  {url}")
    typer.echo("Subscribe to these topics:\n  " + "\n  ".join(adapter.subscribe))
    if kept:
        typer.echo("The previous secret is accepted too until you connect again without --keep-previous.")


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

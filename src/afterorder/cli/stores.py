"""``afterorder store add | list | connect``: the stores (tenants), their API keys, and their
connection to Shopify, WooCommerce or Saleor (the webhook URL to paste and the topics to subscribe).

The store's other settings are set by the commands of their topic (``compliance``, ``dashboard``,
``privacy``); ``afterorder.cli.main`` puts them all under ``store``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from afterorder.cli.common import Database, fail, run
from afterorder.clock import SystemClock
from afterorder.db.database import DEFAULT_URL
from afterorder.db.stores import StoreError, create_store, get_store, list_stores


def store_add(
    slug: str,
    name: Annotated[str, typer.Option(help="the store's name as customers know it")],
    email_from: Annotated[str, typer.Option(help="sender address, e.g. shop@example.jp")],
    reply_to: Annotated[str | None, typer.Option(help="where replies go (a real mailbox)")] = None,
    country: str = "US", locale: str = "en", timezone: str = "UTC", currency: str = "USD",
    postal_address: str = "", support_email: str = "", support_phone: str = "", support_url: str = "",
    brand_color: str = "#1f6feb", logo_url: str = "",
    database: Database = DEFAULT_URL,
) -> None:
    """Create a store; prints it as JSON with its API key (shown only now)."""
    fields = dict(slug=slug, name=name, email_from=email_from, country=country, locale=locale, timezone=timezone,
                  currency=currency, postal_address=postal_address, support_email=support_email,
                  support_phone=support_phone, support_url=support_url, brand_color=brand_color,
                  logo_url=logo_url)
    if reply_to:
        fields["reply_to"] = reply_to

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            store, key = await create_store(conn, SystemClock().now(), **fields)
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


def store_connect(
    slug: str,
    platform: Annotated[str, typer.Argument(help="shopify, woocommerce or saleor")],
    secret: Annotated[str | None, typer.Option(help="the webhook secret the platform signs with")] = None,
    previous_secret: Annotated[str | None, typer.Option(help="a secret still valid during a rotation")] = None,
    keep_previous: Annotated[bool, typer.Option("--keep-previous", help="rotation: keep the current secret too")
                             ] = False,
    api_url: Annotated[str | None, typer.Option(help="Saleor: your API URL, e.g. https://shop.example.com/graphql/")
                       ] = None,
    base_url: Annotated[str, typer.Option(envvar="AFTERORDER_BASE_URL",
                                          help="the public URL of this afterorder server")] = "http://127.0.0.1:8000",
    database: Database = DEFAULT_URL,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Connect a store to Shopify, WooCommerce or Saleor; prints the webhook URL to paste and the topics."""
    from afterorder.db.platforms import connect
    from afterorder.intake.platforms import build_adapters, connection_problems, webhook_url

    adapters = build_adapters()
    adapter = adapters.get(platform)
    if adapter is None:
        raise fail(f"no platform called {platform!r}; use one of {', '.join(adapters)}")
    problems = connection_problems(adapter, secret, api_url)
    if problems:
        raise fail("the store was not connected:\n  " + "\n  ".join(p.replace("api_url:", "--api-url:")
                                                                   .replace("secret:", "--secret:") for p in problems))

    async def work(engine: Any) -> bool:
        async with engine.begin() as conn:
            target = await get_store(conn, slug)
            if target is None:
                raise fail(f"no store called {slug!r}")
            made = await connect(conn, target.id, platform, SystemClock().now(), secret=secret,
                                 previous_secret=previous_secret, keep_previous=keep_previous, api_url=api_url)
        return made.previous_secret is not None

    kept = run(database, work)
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

"""The ``afterorder`` command."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from afterorder.clock import SystemClock
from afterorder.db.database import DEFAULT_URL, DatabaseUrlError, open_engine
from afterorder.db.migrate import upgrade
from afterorder.db.schema import delivery_attempts, outbox
from afterorder.db.stores import StoreError, StoreRow, create_store, get_store, list_stores
from afterorder.domain import Event
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.spec import FlowError
from afterorder.intake.limits import Refused, ahead_problems, read_json
from afterorder.intake.pipeline import Intake
from afterorder.web.errors import validation_details

app = typer.Typer(help="afterorder: post-purchase and lifecycle messaging for online stores.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
store_app = typer.Typer(help="Stores (tenants).", no_args_is_help=True)
events_app = typer.Typer(help="Send events from files.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
outbox_app = typer.Typer(help="Messages queued and sent.", no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(events_app, name="events")
app.add_typer(db_app, name="db")
app.add_typer(outbox_app, name="outbox")

Database = Annotated[str, typer.Option("--database", envvar="AFTERORDER_DATABASE_URL",
                                       help="sqlite:///PATH or postgresql://user@host/db")]
SecretKey = Annotated[str | None, typer.Option(
    "--secret-key", envvar="AFTERORDER_SECRET_KEY", show_default=False,
    help="Fernet key(s) sealing the stores' provider credentials, comma-separated, the sealing one first "
         "(default: the key file beside the database)")]
FlowDirs = Annotated[list[Path] | None, typer.Option("--flows", help="a directory of your own flow YAML files")]
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


async def known_store(conn: Any, slug: str) -> StoreRow:
    """The store called ``slug``; the command fails naming it when there is none."""
    store = await get_store(conn, slug)
    if store is None:
        raise fail(f"no store called {slug!r}")
    return store


def run(database: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the database (migrating it to the current schema) and run ``work(engine)``."""

    async def main() -> T:
        try:
            engine = open_engine(database)
        except DatabaseUrlError as exc:
            raise fail(str(exc)) from None
        try:
            await upgrade(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except OSError as exc:
        raise fail(f"cannot reach the database: {exc}") from None


@db_app.command("upgrade")
def db_upgrade(database: Database = DEFAULT_URL) -> None:
    """Create or migrate the schema to the current version."""

    async def work(_engine: Any) -> None:
        return None

    run(database, work)
    typer.echo("database is at the current schema")


@store_app.command("add")
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


@store_app.command("list")
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
                   "store_id": "--store-id", "token": "--token"}


def _as_option(problem: str) -> str:
    """``field: why`` as ``--option: why`` (the problems name the API's fields)."""
    name, _, why = problem.partition(":")
    return f"{CONNECT_OPTIONS.get(name, name)}:{why}"


@store_app.command("connect")
def store_connect(
    slug: str,
    platform: Annotated[str, typer.Argument(help="shopify, woocommerce, saleor or ecwid")],
    secret: Annotated[str | None, typer.Option("--secret", "--client-secret",
                                               help="the webhook secret the platform signs with (Ecwid: the "
                                                    "app's client secret)")] = None,
    previous_secret: Annotated[str | None, typer.Option(help="a secret still valid during a rotation")] = None,
    keep_previous: Annotated[bool, typer.Option("--keep-previous", help="rotation: keep the current secret too")
                             ] = False,
    api_url: Annotated[str | None, typer.Option(
        "--api-url", "--api-base", help="Saleor: your API URL, e.g. https://shop.example.com/graphql/; Ecwid: the "
                                        "REST API base (default https://app.ecwid.com)")] = None,
    account_id: Annotated[str | None, typer.Option("--store-id", help="Ecwid: your Ecwid store id")] = None,
    token: Annotated[str | None, typer.Option(help="Ecwid: the app's access token (read_orders scope)")] = None,
    base_url: Annotated[str, typer.Option(envvar="AFTERORDER_BASE_URL",
                                          help="the public URL of this afterorder server")] = "http://127.0.0.1:8000",
    database: Database = DEFAULT_URL,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Connect a store to Shopify, WooCommerce, Saleor or Ecwid; prints the webhook URL to paste and the topics."""
    from afterorder.db.platforms import connect
    from afterorder.intake.platforms import build_adapters, connection_problems, webhook_url

    adapters = build_adapters()
    adapter = adapters.get(platform)
    if adapter is None:
        raise fail(f"no platform called {platform!r}; use one of {', '.join(adapters)}")
    problems = connection_problems(adapter, secret, api_url, account_id, token)
    if problems:
        raise fail("the store was not connected:\n  " + "\n  ".join(_as_option(p) for p in problems))

    async def work(engine: Any) -> bool:
        async with engine.begin() as conn:
            target = await get_store(conn, slug)
            if target is None:
                raise fail(f"no store called {slug!r}")
            made = await connect(conn, target.id, platform, SystemClock().now(), secret=secret,
                                 previous_secret=previous_secret, keep_previous=keep_previous, api_url=api_url,
                                 account_id=account_id, token=token)
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


@events_app.command("send")
def events_send(file: Path, store: Annotated[str, typer.Option(help="store slug")],
                database: Database = DEFAULT_URL, flow_dirs: FlowDirs = None) -> None:
    """Store the events of a JSON-lines file (one event per line); all or nothing."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    parsed: list[Event] = []
    raws: list[Any] = []
    problems: list[str] = []
    now = SystemClock().now()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = read_json(line.encode())
            event = Event.model_validate(raw)
        except Refused as exc:
            reason = f"not JSON: {exc.cause}" if exc.code == "invalid_json" else str(exc)
            problems.append(f"{file}:{number}: {reason}")
            continue
        except ValidationError as exc:
            for d in validation_details(exc):
                problems.append(f"{file}:{number}: {d['field']}: {d['message']}")
            continue
        ahead = ahead_problems(event, now)
        problems.extend(f"{file}:{number}: {d['field']}: {d['message']}" for d in ahead)
        if not ahead:
            parsed.append(event)
            raws.append(raw)
    if problems:
        raise fail("nothing was stored:\n" + "\n".join(problems[:50]))
    try:
        catalog = FlowCatalog.load(flow_dirs or [])
    except FlowError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> dict[str, int]:
        async with engine.connect() as conn:
            target = await get_store(conn, store)
        if target is None:
            raise fail(f"no store called {store!r}")
        intake = Intake(engine, catalog, SystemClock())
        counts = {"stored": 0, "duplicate": 0, "runs_started": 0}
        for start in range(0, len(parsed), 500):
            for result in await intake.ingest(target, parsed[start:start + 500], source="file",
                                              raw=raws[start:start + 500]):
                counts[result.status] += 1
                counts["runs_started"] += result.runs_started
        return counts

    typer.echo(json.dumps(run(database, work)))


@outbox_app.command("list")
def outbox_list(database: Database = DEFAULT_URL, store: Annotated[str | None, typer.Option()] = None,
                status: Annotated[str | None, typer.Option()] = None, limit: int = 50,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Messages with their delivery attempts, newest first."""

    async def work(engine: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            query = select(outbox.c.id, outbox.c.store_id, outbox.c.template, outbox.c.locale, outbox.c.recipient,
                           outbox.c.status, outbox.c.attempts, outbox.c.next_attempt_at, outbox.c.last_error,
                           outbox.c.message_id)
            if store:
                target = await get_store(conn, store)
                if target is None:
                    raise fail(f"no store called {store!r}")
                query = query.where(outbox.c.store_id == target.id)
            if status:
                query = query.where(outbox.c.status == status)
            rows = [dict(r) for r in (await conn.execute(query.order_by(outbox.c.id.desc()).limit(limit))).mappings()]
            for r in rows:
                tries = await conn.execute(select(delivery_attempts.c.attempt, delivery_attempts.c.outcome,
                                                  delivery_attempts.c.code, delivery_attempts.c.detail,
                                                  delivery_attempts.c.started_at)
                                           .where(delivery_attempts.c.outbox_id == r["id"])
                                           .order_by(delivery_attempts.c.attempt))
                r["attempt_log"] = [dict(t) for t in tries.mappings()]
            return rows

    rows = run(database, work)
    if as_json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    table = Table("id", "template", "locale", "to", "status", "tries", "next try", "last error")
    for r in rows:
        table.add_row(str(r["id"]), r["template"], r["locale"], r["recipient"], r["status"], str(r["attempts"]),
                      r["next_attempt_at"].strftime("%Y-%m-%d %H:%M:%S") if r["status"] == "queued" else "",
                      (r["last_error"] or "")[:60])
    Console().print(table)


def main() -> None:
    from afterorder import (  # noqa: F401  (each registers its commands)
        cli_channels,
        cli_compliance,
        cli_content,
        cli_dashboard,
        cli_import,
        cli_predict,
        cli_privacy,
        cli_promotions,
        cli_report,
        cli_segment,
        cli_serve,
    )
    from afterorder.config import ConfigError, config_path, default_map, load_settings

    command = typer.main.get_command(app)
    try:
        path = config_path()
        defaults = default_map(command, load_settings(path).option_defaults()) if path else {}
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    try:
        command.main(prog_name="afterorder", default_map=defaults)
    except KeyboardInterrupt:
        sys.exit(130)

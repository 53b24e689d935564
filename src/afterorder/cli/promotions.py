"""``afterorder preview FLOW/STEP``, ``afterorder send-test FLOW/STEP`` and ``afterorder coupon import|show``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from jinja2 import TemplateError
from sqlalchemy import select

from afterorder.audit.command_line import by_command
from afterorder.audit.log import Action, Change
from afterorder.channels.base import ChannelKind
from afterorder.channels.line_limits import LineLimitError
from afterorder.channels.smtp import SmtpChannel
from afterorder.cli.common import Database, FlowDirs, SecretKey, fail, run, store_signer
from afterorder.clock import SystemClock
from afterorder.content import Renderer
from afterorder.content.line import LineRendered
from afterorder.content.sms import SmsRendered
from afterorder.db.database import DEFAULT_URL
from afterorder.db.schema import customers
from afterorder.db.stores import StoreRow, get_store
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.preview import Preview, PreviewError, build_preview, send_test
from afterorder.flows.spec import FlowError
from afterorder.promotions.coupons import CouponError, import_pool, pool_counts

StoreSlug = Annotated[str, typer.Option("--store", help="store slug")]
Locale = Annotated[str, typer.Option("--locale", help="ja, zh-Hans or en")]
Customer = Annotated[str | None, typer.Option("--customer", help="render with this customer's data (store's id)")]
Templates = Annotated[list[Path] | None, typer.Option("--templates", help="a directory of your message templates")]
BaseUrl = Annotated[str, typer.Option("--base-url", envvar="AFTERORDER_BASE_URL")]
Channel = Annotated[ChannelKind, typer.Option("--channel", help="email, line or sms", case_sensitive=False)]


def _split(target: str) -> tuple[str, str]:
    flow, _, step = target.partition("/")
    if not flow or not step:
        raise fail(f"{target!r}: write FLOW/STEP, e.g. welcome/1 or abandoned-cart/abandoned-cart-last")
    return flow, step


async def _customer_id(conn: Any, store: StoreRow, given: str | None) -> int | None:
    if given is None:
        return None
    row = (await conn.execute(select(customers.c.id).where(
        customers.c.store_id == store.id, customers.c.external_id == given))).first()
    if row is None and given.isdigit():
        row = (await conn.execute(select(customers.c.id).where(
            customers.c.store_id == store.id, customers.c.id == int(given)))).first()
    if row is None:
        raise fail(f"store {store.slug!r} has no customer {given!r}")
    return int(row.id)


def _preview(target: str, store: str, locale: str, customer: str | None, database: str, flow_dirs: list[Path] | None,
             template_dirs: list[Path] | None, base_url: str, channel: ChannelKind = ChannelKind.EMAIL,
             secret_key: str | None = None) -> tuple[StoreRow, Preview]:
    flow, step = _split(target)
    try:
        catalog = FlowCatalog.load(flow_dirs or [])
    except FlowError as exc:
        raise fail(str(exc)) from None
    renderer = Renderer(template_dirs or [])

    async def work(engine: Any) -> tuple[StoreRow, Preview]:
        async with engine.begin() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store called {store!r}")
            found = await build_preview(conn, catalog, renderer, row, base_url, flow, step, locale,
                                        SystemClock().now(), await _customer_id(conn, row, customer), channel,
                                        signer=store_signer(row, database, secret_key))
            await conn.rollback()  # a preview changes nothing
            return row, found

    try:
        return run(database, work)
    except (PreviewError, TemplateError, LineLimitError) as exc:
        raise fail(str(exc)) from None


def _shown(found: Preview) -> dict[str, str]:
    """What ``preview`` prints or writes, by file suffix."""
    message = found.message
    if isinstance(message, LineRendered):
        return {".line.json": json.dumps({"messages": message.messages}, ensure_ascii=False, indent=2) + "\n",
                "": f"altText: {message.alt_text}\n\n{json.dumps(message.messages, ensure_ascii=False, indent=2)}"}
    if isinstance(message, SmsRendered):
        measured = f"-- {message.segments} segment{'s' if message.segments != 1 else ''}, {message.encoding}"
        warning = f"\nwarning: {message.warning}" if message.warning else ""
        return {".sms.txt": message.text + "\n", "": f"{message.text}\n\n{measured}{warning}"}
    text = f"Subject: {message.subject}\n\n{message.text}"
    return {".html": message.html, ".txt": text, "": text}


def preview(target: str, store: StoreSlug, locale: Locale = "ja", customer: Customer = None,
            channel: Channel = ChannelKind.EMAIL,
            out: Annotated[Path | None, typer.Option("--out", help="write the message's files here")] = None,
            database: Database = DEFAULT_URL, flow_dirs: FlowDirs = None, template_dirs: Templates = None,
            base_url: BaseUrl = "http://127.0.0.1:8000", secret_key: SecretKey = None) -> None:
    """Render one message of a flow (FLOW/STEP: STEP is 1, 2, ... or the template name) with sample data or
    a customer's, on a channel: email prints the subject and text (--out writes NAME.html and NAME.txt);
    line prints the altText and the LINE message objects (NAME.line.json); sms prints the text with its
    links short, its segment count and encoding, and a warning above 3 segments (NAME.sms.txt)."""
    _, found = _preview(target, store, locale, customer, database, flow_dirs, template_dirs, base_url, channel,
                        secret_key)
    shown = _shown(found)
    if out is None:
        typer.echo(shown[""])
        return
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{found.flow}-{found.step}-{found.locale}"
    written = [out / f"{stem}{suffix}" for suffix in shown if suffix]
    for path in written:
        path.write_text(shown[path.name.removeprefix(stem)], encoding="utf-8")
    typer.echo(f"wrote {' and '.join(str(p) for p in written)}")


def send_test_command(target: str, store: StoreSlug, to: Annotated[str, typer.Option("--to")], locale: Locale = "ja",
                      customer: Customer = None,
                      smtp: Annotated[str | None, typer.Option("--smtp", envvar="AFTERORDER_SMTP_URL")] = None,
                      database: Database = DEFAULT_URL, flow_dirs: FlowDirs = None, template_dirs: Templates = None,
                      base_url: BaseUrl = "http://127.0.0.1:8000", secret_key: SecretKey = None) -> None:
    """Send one message of a flow to ADDR, its subject starting with [TEST]."""
    if "@" not in to:
        raise fail(f"--to {to!r} is not an email address")
    if not smtp:
        raise fail("no mail server: pass --smtp smtp://host:port or set AFTERORDER_SMTP_URL")
    row, found = _preview(target, store, locale, customer, database, flow_dirs, template_dirs, base_url,
                          secret_key=secret_key)
    try:
        channel = SmtpChannel.from_url(smtp)
    except ValueError as exc:
        raise fail(str(exc)) from None

    async def send() -> str:
        try:
            return await send_test(channel, row, base_url, found, to, SystemClock().now())
        finally:
            await channel.close()

    try:
        message_id = asyncio.run(send())
    except OSError as exc:
        raise fail(f"cannot send through {smtp}: {exc}") from None
    typer.echo(f"sent {found.flow}/{found.step} ({found.template}, {found.locale}) to {to}: {message_id}")


def coupon_import(pool: str, file: Path, store: StoreSlug,
                  percent: Annotated[int | None, typer.Option(help="the codes' discount in %")] = None,
                  amount: Annotated[str | None, typer.Option(help="the discount in the store's currency")] = None,
                  expires: Annotated[str | None, typer.Option(help="YYYY-MM-DD: the codes' last day")] = None,
                  database: Database = DEFAULT_URL) -> None:
    """Add the codes of FILE (one a line, or a CSV whose first column is the code) to POOL."""
    try:
        lines = [line.split(",")[0] for line in file.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    try:
        value = Decimal(amount) if amount is not None else None
        until = datetime.fromisoformat(expires).replace(hour=23, minute=59, tzinfo=UTC) if expires else None
    except (InvalidOperation, ValueError):
        raise fail("--amount is a number and --expires a date (YYYY-MM-DD)") from None
    if percent is not None and not 1 <= percent <= 100:
        raise fail("--percent is from 1 to 100")

    async def work(engine: Any) -> tuple[int, int, int, int]:
        async with engine.begin() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store called {store!r}")
            added, known = await import_pool(conn, row.id, pool, lines, percent=percent, amount=value,
                                             expires_at=until, now=SystemClock().now())
            free, issued = await pool_counts(conn, row.id, pool)
            await by_command(conn, row.id, Change(Action.COUPONS_IMPORTED, pool, {  # the counts, never a code
                "added": added, "already_there": known, "percent": percent, "amount": amount}))
            return added, known, free, issued

    try:
        added, known, free, issued = run(database, work)
    except CouponError as exc:
        raise fail(f"{file}: {exc}") from None
    typer.echo(json.dumps({"pool": pool, "added": added, "already_there": known, "unused": free, "issued": issued}))


def coupon_show(pool: str, store: StoreSlug, database: Database = DEFAULT_URL) -> None:
    """How many codes of POOL are unused and issued."""

    async def work(engine: Any) -> tuple[int, int]:
        async with engine.connect() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store called {store!r}")
            return await pool_counts(conn, row.id, pool)

    free, issued = run(database, work)
    typer.echo(json.dumps({"pool": pool, "unused": free, "issued": issued}))

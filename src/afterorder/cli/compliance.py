"""``afterorder store set`` / ``store dkim`` / ``consent history``: a store's compliance settings,
its DKIM key and a customer's consent record."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy import select

from afterorder.cli.common import Database, fail, run
from afterorder.clock import SystemClock
from afterorder.compliance import dkim
from afterorder.compliance.consent import history
from afterorder.compliance.settings import SettingsError, update_settings
from afterorder.db.database import DEFAULT_URL
from afterorder.db.schema import customers
from afterorder.db.stores import get_store


def store_set(
    slug: str,
    marketing_rule: Annotated[str | None, typer.Option(
        help="opt-in (JP, CN, CA), soft-opt-in (EU, UK: buyers who did not object), opt-out (US)")] = None,
    china_ad_prefix: Annotated[bool | None, typer.Option(
        "--china-ad-prefix/--no-china-ad-prefix", help="put 广告 / AD in front of marketing subjects")] = None,
    double_opt_in: Annotated[bool | None, typer.Option(
        "--double-opt-in/--no-double-opt-in", help="grant marketing consent only after a confirmation click")] = None,
    quiet_hours: Annotated[str | None, typer.Option(
        help="HH:MM-HH:MM in the customer's time zone (e.g. 21:00-08:00), or off")] = None,
    cap: Annotated[list[str] | None, typer.Option(
        help="CHANNEL:N/HOURS, e.g. email:3/168 (at most 3 marketing mails a week), or CHANNEL:off")] = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Change a store's compliance settings; prints the settings in force."""

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            store = await get_store(conn, slug)
            if store is None:
                raise fail(f"no store called {slug!r}")
            settings = await update_settings(conn, store.id, SystemClock().now(), rule=marketing_rule,
                                             china_ad_prefix=china_ad_prefix, double_opt_in=double_opt_in,
                                             quiet_hours=quiet_hours, caps=cap or [])
        return settings.public()

    try:
        typer.echo(json.dumps(run(database, work), indent=2))
    except SettingsError as exc:
        raise fail(str(exc)) from None


def store_dkim(
    slug: str,
    selector: Annotated[str, typer.Option(help="the DKIM selector, e.g. ao2026")],
    domain: Annotated[str, typer.Option(help="the signing domain (d=), normally the From address's domain")],
    database: Database = DEFAULT_URL,
) -> None:
    """Generate an RSA 2048 DKIM key for a store, keep it, and print the DNS TXT record to publish."""
    try:
        key = dkim.generate_key(selector, domain)
    except dkim.DkimError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> str:
        async with engine.begin() as conn:
            store = await get_store(conn, slug)
            if store is None:
                raise fail(f"no store called {slug!r}")
            await update_settings(conn, store.id, SystemClock().now(), dkim=key)
            if domain.lower() != store.email_from.rsplit("@", 1)[-1].lower():
                typer.echo(f"note: {domain} is not the domain of {store.email_from}; DMARC wants them aligned",
                           err=True)
        return store.slug

    run(database, work)
    typer.echo(f"Publish this TXT record, then mail from {slug} is signed with it:\n")
    typer.echo(dkim.dns_record(key))
    typer.echo(f"\nname:  {dkim.dns_name(key)}\nvalue: {dkim.dns_value(key)}")


def consent_history(
    customer: Annotated[str, typer.Argument(help="the store's customer id (or email:ADDRESS)")],
    store: Annotated[str, typer.Option(help="store slug")],
    database: Database = DEFAULT_URL,
) -> None:
    """Every recorded consent change of a customer (when, how, wording, source IP), as JSON lines."""

    async def work(engine: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            target = await get_store(conn, store)
            if target is None:
                raise fail(f"no store called {store!r}")
            row = (await conn.execute(select(customers.c.id).where(
                customers.c.store_id == target.id, customers.c.external_id == customer))).first()
            if row is None:
                raise fail(f"no customer {customer!r} in {store}")
            return await history(conn, target.id, row.id)

    for change in run(database, work):
        typer.echo(json.dumps(change, default=str, ensure_ascii=False))

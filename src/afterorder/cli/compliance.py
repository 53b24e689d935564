"""``afterorder store set`` / ``store dkim`` / ``consent history``: a store's compliance settings
(and where its customers' delivery notes are posted: ``--delivery-note-webhook``), its DKIM key
(stored sealed, never printed: ``afterorder.keys.stored``) and a customer's consent record."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated, Any

import typer
from sqlalchemy import select

from afterorder.audit.changes import setting_changes
from afterorder.audit.command_line import by_command
from afterorder.audit.log import Action, Change
from afterorder.cli.common import Database, SecretKey, fail, run, store_signer
from afterorder.clock import SystemClock
from afterorder.compliance import dkim
from afterorder.compliance.consent import history
from afterorder.compliance.settings import SettingsError, load_one, update_settings
from afterorder.db.database import DEFAULT_URL
from afterorder.db.schema import customers
from afterorder.db.store_settings import WebhookUrlError, delivery_note_webhook_of, set_delivery_note_webhook
from afterorder.db.stores import get_store
from afterorder.keys.sealing import SealError, sealer_for
from afterorder.keys.stored import seal_value
from afterorder.order_page.note_webhook import SIGNATURE_HEADER, webhook_key


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
    delivery_note_webhook: Annotated[str | None, typer.Option(
        help="post customers' delivery notes to this https:// address (signed; \"\" to stop)")] = None,
    database: Database = DEFAULT_URL, secret_key: SecretKey = None,
) -> None:
    """Change a store's compliance settings (and its delivery note webhook); prints the settings in force."""

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            store = await get_store(conn, slug)
            if store is None:
                raise fail(f"no store called {slug!r}")
            now = SystemClock().now()
            before = (await load_one(conn, store.id)).public()
            settings = await update_settings(conn, store.id, now, rule=marketing_rule,
                                             china_ad_prefix=china_ad_prefix, double_opt_in=double_opt_in,
                                             quiet_hours=quiet_hours, caps=cap or [])
            for changed in setting_changes(before, settings.public(), "compliance."):
                await by_command(conn, store.id, changed)
            shown = settings.public()
            if delivery_note_webhook is not None:
                was = await delivery_note_webhook_of(conn, store.id)
                url = await set_delivery_note_webhook(conn, store.id, delivery_note_webhook, now)
                if url != was:
                    await by_command(conn, store.id, Change(Action.SETTING_CHANGED, "delivery_note_webhook",
                                                            {"from": was, "to": url}))
                key = webhook_key(store_signer(store, database, secret_key)) if url else None
                shown["delivery_note_webhook"] = {"url": url, "signing_key": key, "signature_header": SIGNATURE_HEADER}
        return shown

    try:
        typer.echo(json.dumps(run(database, work), indent=2))
    except (SettingsError, WebhookUrlError) as exc:
        raise fail(f"--delivery-note-webhook: {exc}" if isinstance(exc, WebhookUrlError) else str(exc)) from None


def store_dkim(
    slug: str,
    selector: Annotated[str, typer.Option(help="the DKIM selector, e.g. ao2026")],
    domain: Annotated[str, typer.Option(help="the signing domain (d=), normally the From address's domain")],
    database: Database = DEFAULT_URL, secret_key: SecretKey = None,
) -> None:
    """Generate an RSA 2048 DKIM key for a store, keep it (sealed), and print the DNS TXT record to publish."""
    try:
        key = dkim.generate_key(selector, domain)
        sealed = replace(key, private_key=seal_value(sealer_for(database, secret_key), key.private_key) or "")
    except (dkim.DkimError, SealError) as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> str:
        async with engine.begin() as conn:
            store = await get_store(conn, slug)
            if store is None:
                raise fail(f"no store called {slug!r}")
            before = (await load_one(conn, store.id)).public()
            after = await update_settings(conn, store.id, SystemClock().now(), dkim=sealed)
            for changed in setting_changes(before, after.public(), "compliance."):
                await by_command(conn, store.id, changed)  # the selector and domain, not the key
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

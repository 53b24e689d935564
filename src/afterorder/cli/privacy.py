"""``afterorder customer export|erase``, ``afterorder suppression list|add|remove`` and the store
settings for ESP webhooks (``store esp``), the URLs every provider's feedback goes to
(``store webhooks``) and tracking (``store tracking``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from afterorder.audit.changes import setting_changes
from afterorder.audit.command_line import by_command
from afterorder.audit.customers import internal_id
from afterorder.audit.log import Action, Change
from afterorder.cli.common import Database, SecretKey, fail, known_store, run, store_signer
from afterorder.clock import SystemClock
from afterorder.compliance.suppression import Reason, lift, list_suppressions, suppress
from afterorder.db.database import DEFAULT_URL
from afterorder.db.stores import StoreRow
from afterorder.feedback import aliyun_sms
from afterorder.feedback.base import BadCredentials
from afterorder.feedback.credentials import PROVIDERS, set_credentials
from afterorder.keys.sealing import SealError, sealer_for
from afterorder.privacy.data_rights import NoSuchCustomer, erase_customer, export_customer
from afterorder.tracking.settings import TrackingSettings, TrackingSettingsError, load_settings, save_settings

StoreSlug = Annotated[str, typer.Option("--store", help="store slug")]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def customer_export(customer_id: str, store: StoreSlug, database: Database = DEFAULT_URL) -> None:
    """Print everything held about a customer (the store's customer id) as JSON."""

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            target = await known_store(conn, store)
            try:
                found = await export_customer(conn, target.id, customer_id)
            except NoSuchCustomer as exc:
                raise fail(str(exc)) from None
            internal = await internal_id(conn, target.id, customer_id)
            await by_command(conn, target.id, Change(Action.CUSTOMER_EXPORTED, f"#{internal}",
                                                     {"customer": internal}))
            return found

    typer.echo(_json(run(database, work)))


def customer_erase(customer_id: str, store: StoreSlug, database: Database = DEFAULT_URL,
                   yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False) -> None:
    """Remove a customer's personal data; totals, counts and the suppression (as a hash) are kept."""
    if not yes:
        typer.confirm(f"Erase the personal data of customer {customer_id!r} of {store!r}? This cannot be undone",
                      abort=True)

    async def work(engine: Any) -> dict[str, int]:
        async with engine.begin() as conn:
            target = await known_store(conn, store)
            internal = await internal_id(conn, target.id, customer_id)
            try:
                erased = await erase_customer(conn, target.id, customer_id, SystemClock().now())
            except NoSuchCustomer as exc:
                raise fail(str(exc)) from None
            await by_command(conn, target.id, Change(Action.CUSTOMER_ERASED, f"#{internal}",
                                                     {"customer": internal}))
            return erased

    typer.echo(_json({"erased": run(database, work)}))


def suppression_list(store: StoreSlug, database: Database = DEFAULT_URL,
                     as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The store's suppressed addresses, newest first (erased ones show only their hash)."""

    async def work(engine: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            return await list_suppressions(conn, (await known_store(conn, store)).id)

    rows = run(database, work)
    if as_json:
        typer.echo(_json(rows))
        return
    table = Table("address", "reason", "source", "since", "detail")
    for r in rows:
        table.add_row(str(r["address"] or "(erased) " + str(r["address_hash"])[:12] + "…"), str(r["reason"]),
                      str(r["source"]), str(r["created_at"])[:19], str(r["detail"])[:50])
    Console().print(table)


def suppression_add(
    address: str, store: StoreSlug, database: Database = DEFAULT_URL,
    reason: Annotated[str, typer.Option(help="manual | unsubscribe | hard_bounce | complaint")] = "manual",
    detail: str = "",
) -> None:
    """Suppress an address by hand."""
    try:
        why = Reason(reason)
    except ValueError:
        raise fail(f"reason: {reason!r} is not one of {', '.join(r.value for r in Reason)}") from None

    async def work(engine: Any) -> None:
        async with engine.begin() as conn:
            target = await known_store(conn, store)
            await suppress(conn, target.id, address, why, source="cli", now=SystemClock().now(), detail=detail)
            await by_command(conn, target.id, Change(Action.SUPPRESSION_ADDED, why.value))  # not the address

    run(database, work)
    typer.echo(f"{address} is suppressed ({why.value})")


def suppression_remove(address: str, store: StoreSlug, database: Database = DEFAULT_URL,
                       reason: Annotated[str | None, typer.Option(help="only this reason")] = None) -> None:
    """Lift the suppression of an address (all reasons, or one)."""

    async def work(engine: Any) -> int:
        async with engine.begin() as conn:
            target = await known_store(conn, store)
            lifted = await lift(conn, target.id, address, reason)
            if lifted:
                await by_command(conn, target.id, Change(Action.SUPPRESSION_LIFTED, reason or "all",
                                                         {"count": lifted}))  # not the address
            return lifted

    typer.echo(f"{run(database, work)} suppression(s) removed")


def store_esp(
    slug: str,
    provider: Annotated[str, typer.Argument(help=" | ".join(PROVIDERS))],
    public_key: Annotated[str | None, typer.Option(help="sendgrid: the Signed Event Webhook verification key")] = None,
    username: Annotated[str | None, typer.Option(help="postmark: basic-auth user name in the webhook URL")] = None,
    password: Annotated[str | None, typer.Option(help="postmark: basic-auth password in the webhook URL")] = None,
    signing_key: Annotated[str | None, typer.Option(help="mailgun: the HTTP webhook signing key")] = None,
    topic_arn: Annotated[list[str] | None, typer.Option(help="ses: accept only this SNS topic (repeatable)")] = None,
    base_url: Annotated[str, typer.Option(help="afterorder's public address, for the printed URL")] = "",
    database: Database = DEFAULT_URL, secret_key: SecretKey = None,
) -> None:
    """Set the credentials a provider's bounce/complaint webhook is checked with; prints the URL to give it.

    Mailgun's signing key is stored sealed; secrets are not printed."""
    try:
        sealer = sealer_for(database, secret_key)
    except SealError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            store = await known_store(conn, slug)
            found = await set_credentials(conn, store.id, provider, SystemClock().now(), sealer=sealer,
                                          public_key=public_key, username=username, password=password,
                                          signing_key=signing_key, topic_arn=topic_arn)
            given = {"public_key": public_key, "username": username, "password": password,
                     "signing_key": signing_key, "topic_arn": topic_arn}
            await by_command(conn, store.id, Change(Action.ESP_CREDENTIALS_SET, provider, {
                "options": ", ".join(sorted(k for k, v in given.items() if v))}))  # the names, never the values
            return found

    try:
        settings = run(database, work)
    except BadCredentials as exc:
        raise fail(str(exc)) from None
    shown = {k: v for k, v in settings.items() if k not in ("password_sha256", "signing_key")}
    typer.echo(_json({"store": slug, "provider": provider, "settings": shown,
                      "webhook_url": f"{base_url.rstrip('/')}/webhooks/esp/{provider}/{slug}"}))


def store_webhooks(
    slug: str,
    base_url: Annotated[str, typer.Option(envvar="AFTERORDER_BASE_URL",
                                          help="afterorder's public address, for the printed URLs")] = "",
    database: Database = DEFAULT_URL, secret_key: SecretKey = None,
) -> None:
    """Print the URL each provider sends its feedback to (bounces, statuses, LINE events, SMS replies).

    The Alibaba Cloud SmsReport URL holds the store's secret token: paste it whole into the console."""

    async def work(engine: Any) -> StoreRow:
        async with engine.connect() as conn:
            return await known_store(conn, slug)

    store = run(database, work)
    base = base_url.rstrip("/")
    typer.echo(_json({"store": slug, "webhooks": {
        **{f"esp:{p}": f"{base}/webhooks/esp/{p}/{slug}" for p in PROVIDERS},
        "line": f"{base}/webhooks/line/{slug}", "twilio": f"{base}/webhooks/twilio/{slug}",
        "aliyun_sms": aliyun_sms.report_url(base, store, store_signer(store, database, secret_key))}}))


def _tracking(found: TrackingSettings) -> dict[str, Any]:
    return {"attribution_days": found.attribution_days, "attribute_opens": found.attribute_opens,
            "track_opens": found.track_opens, "track_clicks": found.track_clicks, "domains": list(found.domains)}


def store_tracking(
    slug: str,
    attribution_days: Annotated[int | None, typer.Option(help="credit orders this many days after a click")] = None,
    attribute_opens: Annotated[bool | None, typer.Option("--attribute-opens/--no-attribute-opens")] = None,
    track_opens: Annotated[bool | None, typer.Option("--track-opens/--no-track-opens")] = None,
    track_clicks: Annotated[bool | None, typer.Option("--track-clicks/--no-track-clicks")] = None,
    domain: Annotated[list[str] | None, typer.Option(help="the store's own domain, for UTM (repeatable)")] = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Show or change the store's tracking and attribution settings."""

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            store = await known_store(conn, slug)
            before = _tracking(await load_settings(conn, store))
            found = _tracking(await save_settings(conn, store, SystemClock().now(), attribution_days=attribution_days,
                                                  attribute_opens=attribute_opens, track_opens=track_opens,
                                                  track_clicks=track_clicks, domains=domain))
            for changed in setting_changes(before, found, "tracking."):
                await by_command(conn, store.id, changed)
            return found

    try:
        typer.echo(_json(run(database, work)))
    except TrackingSettingsError as exc:
        raise fail(str(exc)) from None

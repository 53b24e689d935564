"""The ``afterorder`` command: the whole command tree, built here and only here.

``build_app`` names every group and command in the order ``--help`` lists them; the modules beside
this one only define commands (plain functions whose signatures are their options) and register
nothing when imported.  ``main`` is the console entry point: it reads afterorder.toml's defaults
into the tree and runs it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import typer

from afterorder.cli import (
    channels,
    compliance,
    content,
    dashboard,
    db,
    events,
    history,
    outbox,
    predict,
    privacy,
    promotions,
    report,
    secrets,
    segment,
    serve,
    stores,
)
from afterorder.cli.common import err

Commands = Mapping[str, Callable[..., Any]]


def build_app() -> typer.Typer:
    """A new ``afterorder`` command tree."""
    app = typer.Typer(help="afterorder: post-purchase and lifecycle messaging for online stores.",
                      no_args_is_help=True, pretty_exceptions_enable=False)
    _commands(app, {"import": history.import_history, "preview": promotions.preview,
                    "send-test": promotions.send_test_command, "serve": serve.serve, "worker": serve.worker,
                    "demo": serve.demo})
    _group(app, "store", "Stores (tenants).", {
        "add": stores.store_add, "list": stores.store_list, "connect": stores.store_connect,
        "set": compliance.store_set, "dkim": compliance.store_dkim, "set-industry": dashboard.store_set_industry,
        "esp": privacy.store_esp, "webhooks": privacy.store_webhooks, "tracking": privacy.store_tracking,
        "show": stores.store_show})
    _group(app, "events", "Send events from files.", {"send": events.events_send})
    _group(app, "db", "Database schema.", {"upgrade": db.db_upgrade})
    _group(app, "outbox", "Messages queued and sent.", {"list": outbox.outbox_list})
    _group(app, "channels", "How each store reaches its customers: email, LINE and SMS providers.", {
        "set": channels.channels_set, "list": channels.channels_list, "remove": channels.channels_remove,
        "order": channels.channels_order, "line-notifications": channels.channels_line_notifications,
        "sms-help": channels.channels_sms_help, "amp": channels.channels_amp, "test": channels.channels_test,
        "new-key": channels.channels_new_key, "reseal": channels.channels_reseal},
        settings={"set": channels.SET_SETTINGS})
    _group(app, "consent", "Consent records.", {"history": compliance.consent_history})
    _group(app, "content", "Content the built-in flows read, per store.",
           {"set": content.content_set, "show": content.content_show})
    _group(app, "user", "Dashboard users: who may log in, to which stores, with which role.",
           {"add": dashboard.user_add})
    _group(app, "predict", "Predictions: will a customer buy again, when, and for how much.",
           {"fit": predict.predict_fit, "show": predict.predict_show})
    _group(app, "customer", "A customer's data: export it, erase it.",
           {"export": privacy.customer_export, "erase": privacy.customer_erase})
    _group(app, "suppression", "Addresses that may not be mailed.", {
        "list": privacy.suppression_list, "add": privacy.suppression_add, "remove": privacy.suppression_remove})
    _group(app, "coupon", "Coupon codes: import a pool, see what is left.",
           {"import": promotions.coupon_import, "show": promotions.coupon_show})
    _group(app, "report", "Reports: customer retention and product repurchase cycles.",
           {"retention": report.report_retention, "product-cycle": report.report_product_cycle})
    _group(app, "secrets", "The key sealing stored secrets (webhook secrets, provider credentials, DKIM keys).", {
        "new-key": secrets.secrets_new_key, "reseal": secrets.secrets_reseal, "check": secrets.secrets_check})
    _group(app, "segment", "Segments: customers who meet a condition, always current.", {
        "define": segment.segment_define, "list": segment.segment_list, "count": segment.segment_count,
        "members": segment.segment_members, "export": segment.segment_export})
    _group(app, "flows", "Flows of a store.",
           {"list": serve.flows_list, "enable": serve.flows_enable, "disable": serve.flows_disable})
    return app


def _commands(parent: typer.Typer, commands: Commands, settings: Mapping[str, dict[str, Any]] | None = None) -> None:
    for name, command in commands.items():
        parent.command(name, **(settings or {}).get(name, {}))(command)


def _group(app: typer.Typer, name: str, help: str, commands: Commands,
           settings: Mapping[str, dict[str, Any]] | None = None) -> None:
    group = typer.Typer(help=help, no_args_is_help=True)
    _commands(group, commands, settings)
    app.add_typer(group, name=name)


def main() -> None:
    from afterorder.config import ConfigError, config_path, default_map, load_settings

    command = typer.main.get_command(build_app())
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

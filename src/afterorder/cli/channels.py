"""``afterorder channels``: how a store reaches its customers — which provider sends email, LINE and
SMS (and which is the backup), with what credentials and at what rate; the order transactional
messages try the channels in; a test message through a stored setup; the key that seals the
credentials (``new-key``, ``reseal`` after a rotation).

A provider's options are its own (``channels.arguments`` reads them from its options model), so
``set`` takes them after the provider's name: ``afterorder channels set kumo smtp --url smtp://…``.
A wrong, unknown or missing option stops the command with exit code 2, naming each, and nothing is
stored.  Secrets are sealed before they are stored and printed only masked; the key comes from
``--secret-key``, ``AFTERORDER_SECRET_KEY`` or ``secret_key`` in afterorder.toml, else the key file
(``afterorder.keys.sealing``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from afterorder.audit.command_line import by_command
from afterorder.audit.log import Action, Change
from afterorder.channels.arguments import as_flags, describe, listed, read_options
from afterorder.channels.base import SendOutcome, SendResult
from afterorder.channels.catalog import PROVIDERS, provider
from afterorder.channels.options import OptionsError, Provider
from afterorder.channels.probe import PROBE_TEMPLATE, check_address, probe_message, send_probe
from afterorder.channels.setup import (
    BACKUP,
    PRIMARY,
    ProviderSetup,
    check_rate,
    check_role,
    configured_channels,
    load_prefs,
    load_setups,
    parse_channel,
    remove_provider,
    set_provider,
    update_prefs,
)
from afterorder.cli.common import Database, SecretKey, err, fail, known_store, run
from afterorder.clock import SystemClock
from afterorder.db.database import DEFAULT_URL
from afterorder.keys.sealing import Sealer, SealError, new_key, sealer_for

Role = Annotated[str, typer.Option(help="primary | backup (used while the primary is busy or down)")]
AsJson = Annotated[bool, typer.Option("--json")]
USAGE = 2  # the exit code of a command given wrong options
PROVIDER_OPTIONS = "\n\n".join(f"{p.name} ({p.channel.value}): {describe(p)}" for p in PROVIDERS.values())
# ``channels set`` takes the provider's own options after its name, and its help lists them per provider.
SET_SETTINGS: dict[str, Any] = {"context_settings": {"allow_extra_args": True, "ignore_unknown_options": True},
                                "epilog": f"Options per provider:\n\n{PROVIDER_OPTIONS}"}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def _sealer(database: str, secret_key: str | None) -> Sealer:
    try:
        return sealer_for(database, secret_key)
    except SealError as exc:
        raise fail(str(exc)) from None


def _provider(name: str) -> Provider:
    try:
        return provider(name)
    except OptionsError as exc:
        raise fail(str(exc), USAGE) from None


def _problems(*checks: Callable[[], object]) -> dict[str, str]:
    """Every problem the checks find (each raises ``OptionsError``), not only the first."""
    found: dict[str, str] = {}
    for check in checks:
        try:
            check()
        except OptionsError as exc:
            found.update(exc.fields)
    return found


def channels_set(
    ctx: typer.Context, store: str,
    provider_name: Annotated[str, typer.Argument(metavar="PROVIDER", help=" | ".join(PROVIDERS))],
    role: Role = PRIMARY,
    rate: Annotated[float | None, typer.Option(help="messages per second at most (default: the provider's limit)")
                    ] = None,
    database: Database = DEFAULT_URL, secret_key: SecretKey = None,
) -> None:
    """Set the provider of a channel: `channels set STORE PROVIDER --option value ...` (replaces its role's)."""
    spec = _provider(provider_name)
    given: dict[str, Any] = {}
    problems = _problems(lambda: check_role(role), lambda: check_rate(rate),
                         lambda: given.update(read_options(spec, ctx.args)))
    if problems:
        raise fail(f"nothing was stored:\n{as_flags(spec, OptionsError('', problems))}\n"
                   f"{spec.name} options: {describe(spec)}", USAGE)
    sealer = _sealer(database, secret_key)

    async def work(engine: Any) -> ProviderSetup:
        async with engine.begin() as conn:
            target = await known_store(conn, store)
            saved = await set_provider(conn, sealer, target.id, spec.name, given, SystemClock().now(), role=role,
                                       rate=rate)
            await by_command(conn, target.id, Change(Action.CHANNEL_SET, saved.setup.channel.value, {
                "provider": spec.name, "role": role, "rate": rate, "options": ", ".join(sorted(given))}))
        return saved.setup

    try:
        stored = run(database, work)
    except OptionsError as exc:
        raise fail(f"nothing was stored:\n{as_flags(spec, exc)}\n{spec.name} options: {describe(spec)}",
                   USAGE) from None
    typer.echo(_json({"store": store, **stored.shown()}))


def channels_list(store: str, database: Database = DEFAULT_URL, secret_key: SecretKey = None,
                  as_json: AsJson = False) -> None:
    """The store's providers (secrets masked), the order of its channels and its LINE and SMS settings."""
    sealer = _sealer(database, secret_key)

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.connect() as conn:
            target = await known_store(conn, store)
            setups = await load_setups(conn, sealer, [target.id])
            prefs = (await load_prefs(conn, [target.id]))[target.id]
        return {"store": store, "providers": [s.shown() for s in setups], **prefs.shown()}

    found = run(database, work)
    if as_json:
        typer.echo(_json(found))
        return
    table = Table("channel", "role", "provider", "options", "rate /s", "problem")
    for s in found["providers"]:
        rate = s["rate"] if s["rate"] is not None else f"{s['default_rate'] or 'unlimited'} (default)"
        table.add_row(s["channel"], s["role"], s["provider"], " ".join(f"{k}={v}" for k, v in s["options"].items()),
                      str(rate), s["problem"] or "")
    Console(soft_wrap=True).print(table)
    typer.echo(f"order: {', '.join(found['order'])}")
    typer.echo(f"LINE notification messages: {'on' if found['line_notifications'] else 'off'}")
    if found["line_paused_until"]:
        typer.echo(f"LINE paused (monthly quota used up) until {found['line_paused_until']}: email meanwhile")
    typer.echo(f"SMS HELP answer: {found['sms_help'] or '(none)'}")
    typer.echo(f"AMP for Email in the shipping mails: {'on' if found['amp_email'] else 'off'}")


def channels_remove(store: str, channel: Annotated[str, typer.Argument(help="email | line | sms")],
                    role: Role = PRIMARY, database: Database = DEFAULT_URL) -> None:
    """Remove the provider of a channel (email falls back to the server's own relay)."""
    try:
        kind = parse_channel(channel)
        check_role(role)
    except OptionsError as exc:
        raise fail(str(exc), USAGE) from None

    async def work(engine: Any) -> bool:
        async with engine.begin() as conn:
            target = await known_store(conn, store)
            removed = await remove_provider(conn, target.id, kind, role)
            if removed:
                await by_command(conn, target.id, Change(Action.CHANNEL_REMOVED, kind.value, {"role": role}))
            return removed

    try:
        removed = run(database, work)
    except OptionsError as exc:
        raise fail(str(exc)) from None
    if not removed:
        raise fail(f"{store} has no {role} provider for {kind.value}")
    typer.echo(f"{store}: the {role} provider for {kind.value} is removed")


def _change_prefs(store: str, database: str, **change: Any) -> None:
    async def work(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            target = await known_store(conn, store)
            prefs = await update_prefs(conn, target.id, SystemClock().now(), **change)
            await by_command(conn, target.id, Change(Action.CHANNELS_CHANGED, "channels", {
                k: ", ".join(v) if isinstance(v, list) else v for k, v in change.items()}))
            set_up = await configured_channels(conn, target.id)
        missing = [c for c in prefs.order if c not in set_up]
        if change.get("order") and missing:
            err.print(f"note: {', '.join(c.value for c in missing)} has no provider yet: messages skip it until "
                      "`afterorder channels set` gives it one", highlight=False)
        return {"store": store, **prefs.shown()}

    try:
        typer.echo(_json(run(database, work)))
    except OptionsError as exc:
        raise fail(f"nothing was changed: {exc}", USAGE) from None


def channels_order(store: str, channels: Annotated[list[str], typer.Argument(help="e.g. line email")],
                   database: Database = DEFAULT_URL) -> None:
    """The order transactional messages try the channels in: the first the customer can receive."""
    _change_prefs(store, database, order=channels)


def channels_line_notifications(store: str, state: Annotated[str, typer.Argument(help="on | off")],
                                database: Database = DEFAULT_URL) -> None:
    """Whether LINE approved the account for LINE notification messages (to customers by phone number)."""
    switches = {"on": True, "off": False}
    if state.lower() not in switches:
        raise fail(f"state: say on or off, not {state!r}", USAGE)
    _change_prefs(store, database, line_notifications=switches[state.lower()])


def channels_amp(store: str, state: Annotated[str, typer.Argument(help="on | off")],
                 database: Database = DEFAULT_URL) -> None:
    """Whether the shipping mails carry an AMP for Email part with the live order status (on by default)."""
    switches = {"on": True, "off": False}
    if state.lower() not in switches:
        raise fail(f"state: say on or off, not {state!r}", USAGE)
    _change_prefs(store, database, amp_email=switches[state.lower()])


def channels_sms_help(store: str, text: Annotated[str, typer.Argument(help="the answer to an inbound HELP")],
                      database: Database = DEFAULT_URL) -> None:
    """The answer an inbound SMS HELP gets (US/CA: the store's name and how to get support)."""
    _change_prefs(store, database, sms_help=text)


def channels_test(
    store: str, provider_name: Annotated[str, typer.Argument(metavar="PROVIDER", help=" | ".join(PROVIDERS))],
    to: Annotated[str, typer.Option(help="an email address, a LINE user id or an E.164 phone number")],
    role: Annotated[str | None, typer.Option(help="primary | backup, when the provider holds both")] = None,
    template: Annotated[str, typer.Option(help="SMS: the template name (Alibaba Cloud sends its approved code)")
                        ] = PROBE_TEMPLATE,
    database: Database = DEFAULT_URL, secret_key: SecretKey = None,
) -> None:
    """Send one test message through the store's stored setup of PROVIDER; prints the provider's answer."""
    spec = _provider(provider_name)
    try:
        address = check_address(spec.channel, to)
        roles = (check_role(role),) if role else (PRIMARY, BACKUP)
    except OptionsError as exc:
        raise fail(str(as_flags(spec, exc, ("to", "role"))), USAGE) from None
    sealer = _sealer(database, secret_key)

    async def work(engine: Any) -> tuple[ProviderSetup, SendResult]:
        async with engine.connect() as conn:
            target = await known_store(conn, store)
            setups = [s for s in await load_setups(conn, sealer, [target.id]) if s.provider == spec.name]
        setup = next((s for r in roles for s in setups if s.role == r), None)
        if setup is None:
            raise fail(f"{store} has no {spec.name} set up{f' as {role}' if role else ''}: "
                       f"afterorder channels set {store} {spec.name} ...")
        if setup.problem:
            raise fail(f"{store}'s {spec.name} setup cannot be used: {setup.problem}")
        message = probe_message(spec.channel, target.snapshot(""), address, spec.name, SystemClock().now(), template)
        return setup, await send_probe(setup, message)

    try:
        setup, result = run(database, work)
    except OptionsError as exc:
        raise fail(f"{store}'s stored {spec.name} options no longer check out; set them again:\n"
                   f"{listed(as_flags(spec, exc).fields)}") from None
    typer.echo(_json({"store": store, "provider": spec.name, "channel": spec.channel.value, "role": setup.role,
                      "to": address, "outcome": result.outcome.value, "code": result.code, "detail": result.detail,
                      "provider_id": result.provider_id, "retry_after": result.retry_after}))
    if result.outcome is not SendOutcome.SENT:
        raise typer.Exit(1)


def channels_new_key() -> None:
    """Print a new Fernet key for AFTERORDER_SECRET_KEY (rotating: put it first, then `secrets reseal`)."""
    typer.echo(new_key())


def channels_reseal(database: Database = DEFAULT_URL, secret_key: SecretKey = None) -> None:
    """After a key rotation: seal every stored secret again with the first configured key (as `secrets reseal`)."""
    from afterorder.cli.secrets import reseal_command

    reseal_command(database, secret_key)

"""A store's channel setup: which provider sends each channel (and which is its backup), with what
credentials, at what rate; the order transactional messages try the channels in; LINE's state.

Credentials are checked by the provider (``Provider.check``: every option named when wrong), the
secret ones sealed (``afterorder.keys.sealing``) before they reach the database, and shown only masked
(:meth:`ProviderSetup.shown`).  Both the CLI (``afterorder channels``) and the admin API
(``/api/v1/channels``) go through here.

Errors are :class:`OptionsError` whose ``fields`` are keyed by where the value sits in the admin
API's body (``options.channel_secret``, ``rate``, ``role``, ``order``, ``sms_help``); nothing is
written when one is raised.  A LINE or SMS backup needs a primary (it is only used beside one), so
a backup is set after its primary and removed before it; email always has the server's relay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import ChannelKind
from afterorder.channels.catalog import PROVIDERS, provider
from afterorder.channels.options import OptionsError, Provider
from afterorder.db.dialect import upsert
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import store_channel_settings, store_channels, stores
from afterorder.keys.sealing import Sealer, SealError

PRIMARY = "primary"
BACKUP = "backup"
ROLES = (PRIMARY, BACKUP)
MAX_RATE = 100_000.0  # messages per second: above any provider's limit
MAX_SMS_HELP = 480  # characters of the HELP answer (three GSM-7 segments)
DEFAULT_ORDER: tuple[ChannelKind, ...] = (ChannelKind.EMAIL,)
LINE_MONTH_ZONE = ZoneInfo("Asia/Tokyo")  # LINE counts its monthly quota in Japan time


class ShownSetup(TypedDict):
    """A provider setup as the CLI and the API show it: secrets masked."""

    channel: str
    role: str
    provider: str
    options: dict[str, Any]
    rate: float | None
    default_rate: float | None
    updated_at: str
    problem: str | None


class ShownPrefs(TypedDict):
    order: list[str]
    line_notifications: bool
    line_paused_until: str | None
    sms_help: str
    amp_email: bool


@dataclass(frozen=True)
class ProviderSetup:
    """One provider set up for one store's channel, secrets opened (only delivery sees these)."""

    store_id: int
    channel: ChannelKind
    role: str
    provider: str
    settings: Mapping[str, Any]
    secrets: Mapping[str, str] = field(repr=False)
    rate: float | None
    updated_at: datetime
    problem: str | None = None  # why it cannot be used as stored (its secrets cannot be opened)

    def options(self) -> dict[str, Any]:
        return {**self.settings, **self.secrets}

    def shown(self) -> ShownSetup:
        """What the CLI and the API may print: each secret's name with a mask, never its value."""
        spec = PROVIDERS.get(self.provider)  # None: a provider this version no longer has
        secret_names = list(self.secrets) if self.problem is None else _required_secrets(spec)
        return ShownSetup(channel=self.channel.value, role=self.role, provider=self.provider,
                          options=spec.masked(self.settings, secret_names) if spec else dict(self.settings),
                          rate=self.rate, default_rate=spec.default_rate if spec else None,
                          updated_at=self.updated_at.isoformat(), problem=self.problem)


def _required_secrets(spec: Provider | None) -> list[str]:
    """The secrets a setup surely holds when they cannot be opened to see which were given."""
    if spec is None:
        return []
    required = [f.alias or name for name, f in spec.options.model_fields.items() if f.is_required()]
    return [key for key in required if key in spec.options.SECRETS]


@dataclass(frozen=True)
class Saved:
    setup: ProviderSetup
    created: bool  # no provider held this channel and role before


@dataclass(frozen=True)
class ChannelPrefs:
    """A store's channel preferences (a store without a row has the defaults)."""

    order: tuple[ChannelKind, ...] = DEFAULT_ORDER
    line_notifications: bool = False
    line_paused_until: datetime | None = None
    sms_help: str = ""
    amp_email: bool = True  # the shipping mails carry an AMP for Email part (afterorder.order_page.amp_mail)

    def line_paused(self, now: datetime) -> bool:
        return self.line_paused_until is not None and now < self.line_paused_until

    def shown(self) -> ShownPrefs:
        return ShownPrefs(order=[c.value for c in self.order], line_notifications=self.line_notifications,
                          line_paused_until=self.line_paused_until.isoformat() if self.line_paused_until else None,
                          sms_help=self.sms_help, amp_email=self.amp_email)


def parse_channel(value: str, where: str = "channel") -> ChannelKind:
    try:
        return ChannelKind(value.strip().lower())
    except ValueError:
        known = ", ".join(c.value for c in ChannelKind)
        spec = PROVIDERS.get(value)
        hint = f" ({value} is a provider: name its channel, {spec.channel.value})" if spec else ""
        problem = f"unknown channel {value!r}{hint}; channels: {known}"
        raise OptionsError(f"{where}: {problem}", {where: problem}) from None


def parse_order(values: Iterable[str]) -> tuple[ChannelKind, ...]:
    order = tuple(parse_channel(v, "order") for v in values)
    if not order:
        raise OptionsError("order: name at least one channel", {"order": "name at least one channel"})
    if len(set(order)) != len(order):
        raise OptionsError("order: a channel is named twice", {"order": "a channel is named twice"})
    return order


def check_role(role: str) -> str:
    if role not in ROLES:
        problem = f"must be {' or '.join(ROLES)}"
        raise OptionsError(f"role {problem}, got {role!r}", {"role": problem})
    return role


def check_rate(rate: float | None) -> float | None:
    if rate is not None and not 0 < rate <= MAX_RATE:
        problem = f"must be more than 0 and at most {MAX_RATE:g} messages per second"
        raise OptionsError(f"rate {problem}, got {rate}", {"rate": problem})
    return rate


def checked_options(spec: Provider, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(plain settings, secrets) of ``given``, checked by the provider; errors keyed ``options.NAME``."""
    try:
        return spec.split(spec.check(given))
    except OptionsError as exc:
        fields = {name if name == "options" else f"options.{name}": problem for name, problem in exc.fields.items()}
        raise OptionsError(str(exc), fields) from None


async def set_provider(conn: AsyncConnection, sealer: Sealer, store_id: int, name: str, given: Mapping[str, Any],
                       now: datetime, *, role: str = PRIMARY, rate: float | None = None) -> Saved:
    """Check ``given`` against provider ``name``'s options and store them for the store (sealed).

    The provider takes the role for its channel; whatever held that role before is replaced."""
    spec = provider(name)
    check_role(role)
    check_rate(rate)
    settings, secrets = checked_options(spec, given)
    held = await _roles_held(conn, store_id, spec.channel)
    if role == BACKUP and spec.channel is not ChannelKind.EMAIL and PRIMARY not in held:
        raise OptionsError(f"{spec.channel.value} has no primary provider yet: set one before its backup",
                           {"role": f"{spec.channel.value} has no primary provider yet: set one before its backup"})
    values = {"store_id": store_id, "channel": spec.channel.value, "role": role, "provider": name,
              "settings": settings, "secrets": sealer.seal(secrets), "rate": rate, "updated_at": now}
    await conn.execute(upsert(conn, store_channels, ("store_id", "channel", "role"), values))
    return Saved(ProviderSetup(store_id, spec.channel, role, name, settings, secrets, rate, now), role not in held)


async def _roles_held(conn: AsyncConnection, store_id: int, channel: ChannelKind) -> set[str]:
    rows = await conn.execute(select(store_channels.c.role).where(
        store_channels.c.store_id == store_id, store_channels.c.channel == channel.value))
    return {r.role for r in rows}


async def remove_provider(conn: AsyncConnection, store_id: int, channel: ChannelKind, role: str = PRIMARY) -> bool:
    """Remove the provider holding ``role`` for ``channel``; False when there was none."""
    check_role(role)
    if role == PRIMARY and channel is not ChannelKind.EMAIL and BACKUP in await _roles_held(conn, store_id, channel):
        raise OptionsError(f"{channel.value} still has a backup provider: remove it first",
                           {"role": f"{channel.value} still has a backup provider: remove it first"})
    removed = await conn.execute(store_channels.delete().where(
        store_channels.c.store_id == store_id, store_channels.c.channel == channel.value,
        store_channels.c.role == role))
    return bool(removed.rowcount)


_SETUPS = (select(store_channels).where(in_keys(store_channels.c.store_id, "ids"))
           .order_by(store_channels.c.store_id, store_channels.c.channel, store_channels.c.role))


async def load_setups(conn: AsyncConnection, sealer: Sealer, store_ids: Iterable[int]) -> list[ProviderSetup]:
    """Every provider set up for these stores, secrets opened (``problem`` says why they could not be)."""
    ids = sorted(set(store_ids))
    if not ids:
        return []
    found = []
    for r in await conn.execute(_SETUPS, {"ids": ids}):
        try:
            secrets, problem = sealer.open(r.secrets), None
        except SealError as exc:
            secrets, problem = {}, str(exc)
        found.append(ProviderSetup(r.store_id, ChannelKind(r.channel), r.role, r.provider, dict(r.settings),
                                   secrets, r.rate, r.updated_at, problem))
    return found


_STORES_WITH_SETUP = select(store_channels.c.store_id).distinct().where(in_keys(store_channels.c.store_id, "ids"))


async def configured_stores(conn: AsyncConnection, store_ids: Iterable[int]) -> set[int]:
    """Which of these stores have any provider set up."""
    return {r.store_id for r in await conn.execute(_STORES_WITH_SETUP, {"ids": sorted(set(store_ids))})}


async def store_slugs(conn: AsyncConnection, store_ids: Iterable[int]) -> dict[int, str]:
    rows = await conn.execute(select(stores.c.id, stores.c.slug).where(in_keys(stores.c.id, "ids")),
                              {"ids": sorted(set(store_ids))})
    return {r.id: r.slug for r in rows}


async def configured_channels(conn: AsyncConnection, store_id: int) -> set[ChannelKind]:
    """The channels the store can send on (email always: the server's relay sends it)."""
    return {ChannelKind.EMAIL, *await primaries(conn, store_id)}


async def primaries(conn: AsyncConnection, store_id: int) -> dict[ChannelKind, tuple[str, dict[str, Any]]]:
    """The primary provider of each channel the store set up, with its plain (not secret) options."""
    rows = await conn.execute(select(store_channels.c.channel, store_channels.c.provider, store_channels.c.settings)
                              .where(store_channels.c.store_id == store_id, store_channels.c.role == PRIMARY))
    return {ChannelKind(r.channel): (r.provider, dict(r.settings)) for r in rows}


async def reseal_all(conn: AsyncConnection, sealer: Sealer) -> int:
    """Seal every store's secrets again with the first key (after a rotation); how many were.

    All or nothing: if any cannot be opened with the configured keys, none is changed and the
    ``SealError`` names each (store, channel, role)."""
    rows = (await conn.execute(select(store_channels.c.store_id, store_channels.c.channel, store_channels.c.role,
                                      store_channels.c.secrets, stores.c.slug)
                               .join(stores, stores.c.id == store_channels.c.store_id)
                               .order_by(stores.c.slug, store_channels.c.channel, store_channels.c.role))).all()
    resealed, unreadable = [], []
    for r in rows:
        try:
            resealed.append((r, sealer.reseal(r.secrets)))
        except SealError:
            unreadable.append(f"{r.slug} {r.channel} ({r.role})")
    if unreadable:
        raise SealError(f"nothing was re-sealed: the secrets of {', '.join(unreadable)} cannot be opened with any "
                        f"key of {sealer.source}; add the key they were sealed with after the new one")
    for r, token in resealed:
        await conn.execute(store_channels.update().where(
            store_channels.c.store_id == r.store_id, store_channels.c.channel == r.channel,
            store_channels.c.role == r.role).values(secrets=token))
    return len(resealed)


_PREFS = select(store_channel_settings).where(in_keys(store_channel_settings.c.store_id, "ids"))


async def load_prefs(conn: AsyncConnection, store_ids: Iterable[int]) -> dict[int, ChannelPrefs]:
    ids = sorted(set(store_ids))
    found = {sid: ChannelPrefs() for sid in ids}
    if not ids:
        return found
    for r in await conn.execute(_PREFS, {"ids": ids}):
        found[r.store_id] = ChannelPrefs(tuple(ChannelKind(c) for c in r.channel_order), bool(r.line_notifications),
                                         r.line_paused_until, r.sms_help or "", bool(r.amp_email))
    return found


def check_sms_help(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_SMS_HELP:
        problem = f"at most {MAX_SMS_HELP} characters (this is {len(text)})"
        raise OptionsError(f"sms_help: {problem}", {"sms_help": problem})
    return text


async def update_prefs(conn: AsyncConnection, store_id: int, now: datetime, *,
                       order: Sequence[str] | None = None, line_notifications: bool | None = None,
                       line_paused_until: datetime | bool | None = False, sms_help: str | None = None,
                       amp_email: bool | None = None) -> ChannelPrefs:
    """Change what is given (``line_paused_until=None`` clears the pause; leaving it out keeps it)."""
    current = (await load_prefs(conn, [store_id]))[store_id]
    values: dict[str, Any] = {
        "store_id": store_id,
        "channel_order": [c.value for c in (parse_order(order) if order is not None else current.order)],
        "line_notifications": current.line_notifications if line_notifications is None else line_notifications,
        "line_paused_until": current.line_paused_until if line_paused_until is False else line_paused_until,
        "sms_help": current.sms_help if sms_help is None else check_sms_help(sms_help),
        "amp_email": current.amp_email if amp_email is None else amp_email,
        "updated_at": now,
    }
    await conn.execute(upsert(conn, store_channel_settings, ("store_id",), values))
    return (await load_prefs(conn, [store_id]))[store_id]


def next_line_month(now: datetime) -> datetime:
    """The start of next month in Japan time (when LINE's monthly quota starts again), as UTC."""
    local = now.astimezone(LINE_MONTH_ZONE)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=LINE_MONTH_ZONE).astimezone(UTC)

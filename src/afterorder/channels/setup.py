"""A store's channel setup: which provider sends each channel (and which is its backup), with what
credentials, at what rate; the order transactional messages try the channels in; LINE's state.

Credentials are checked by the provider (``Provider.check``: every option named when wrong), the
secret ones sealed (``afterorder.sealing``) before they reach the database, and shown only masked.
Both the CLI (``afterorder channels``) and the admin API (``/api/v1/channels``) go through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import ChannelKind
from afterorder.channels.catalog import PROVIDERS, provider
from afterorder.channels.options import OptionsError
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import store_channel_settings, store_channels
from afterorder.sealing import Sealer, SealError

PRIMARY = "primary"
BACKUP = "backup"
ROLES = (PRIMARY, BACKUP)
DEFAULT_ORDER: tuple[ChannelKind, ...] = (ChannelKind.EMAIL,)
LINE_MONTH_ZONE = ZoneInfo("Asia/Tokyo")  # LINE counts its monthly quota in Japan time


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

    def shown(self) -> dict[str, Any]:
        """What the CLI and the API may print: secrets masked."""
        spec = provider(self.provider)
        return {"channel": self.channel.value, "role": self.role, "provider": self.provider,
                "options": spec.masked(self.settings, list(self.secrets)), "rate": self.rate,
                "default_rate": spec.default_rate, "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True)
class ChannelPrefs:
    """A store's channel preferences (a store without a row has the defaults)."""

    order: tuple[ChannelKind, ...] = DEFAULT_ORDER
    line_notifications: bool = False
    line_paused_until: datetime | None = None
    sms_help: str = ""

    def line_paused(self, now: datetime) -> bool:
        return self.line_paused_until is not None and now < self.line_paused_until

    def shown(self) -> dict[str, Any]:
        return {"order": [c.value for c in self.order], "line_notifications": self.line_notifications,
                "line_paused_until": self.line_paused_until.isoformat() if self.line_paused_until else None,
                "sms_help": self.sms_help}


def parse_channel(value: str) -> ChannelKind:
    try:
        return ChannelKind(value.strip().lower())
    except ValueError:
        raise OptionsError(f"unknown channel {value!r}; channels: {', '.join(c.value for c in ChannelKind)}",
                           {"channel": "unknown"}) from None


def parse_order(values: Iterable[str]) -> tuple[ChannelKind, ...]:
    order = tuple(parse_channel(v) for v in values)
    if not order:
        raise OptionsError("order: name at least one channel", {"order": "empty"})
    if len(set(order)) != len(order):
        raise OptionsError("order: a channel is named twice", {"order": "duplicate"})
    return order


async def set_provider(conn: AsyncConnection, sealer: Sealer, store_id: int, name: str, given: Mapping[str, Any],
                       now: datetime, *, role: str = PRIMARY, rate: float | None = None) -> ProviderSetup:
    """Check ``given`` against provider ``name``'s options and store them for the store (sealed).

    The provider takes the role for its channel; whatever held that role before is replaced."""
    if name not in PROVIDERS:
        raise OptionsError(f"unknown provider {name!r}; providers: {', '.join(PROVIDERS)}", {"provider": "unknown"})
    if role not in ROLES:
        raise OptionsError(f"role must be {' or '.join(ROLES)}, got {role!r}", {"role": "unknown"})
    if rate is not None and not 0 < rate <= 100_000:
        raise OptionsError(f"rate must be between 0 and 100000 messages per second, got {rate}", {"rate": "range"})
    spec = provider(name)
    settings, secrets = spec.split(spec.check(given))
    values = {"provider": name, "settings": settings, "secrets": sealer.seal(secrets), "rate": rate,
              "updated_at": now}
    where = (store_channels.c.store_id == store_id, store_channels.c.channel == spec.channel.value,
             store_channels.c.role == role)
    updated = await conn.execute(store_channels.update().where(*where).values(**values))
    if updated.rowcount == 0:
        await conn.execute(store_channels.insert().values(store_id=store_id, channel=spec.channel.value, role=role,
                                                          **values))
    return ProviderSetup(store_id, spec.channel, role, name, settings, secrets, rate, now)


async def remove_provider(conn: AsyncConnection, store_id: int, channel: ChannelKind, role: str = PRIMARY) -> bool:
    removed = await conn.execute(store_channels.delete().where(
        store_channels.c.store_id == store_id, store_channels.c.channel == channel.value,
        store_channels.c.role == role))
    return bool(removed.rowcount)


_SETUPS = select(store_channels).where(in_keys(store_channels.c.store_id, "ids"))


async def load_setups(conn: AsyncConnection, sealer: Sealer, store_ids: Iterable[int]) -> list[ProviderSetup]:
    """Every provider set up for these stores, secrets opened."""
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


async def primaries(conn: AsyncConnection, store_id: int) -> dict[ChannelKind, tuple[str, dict[str, Any]]]:
    """The primary provider of each channel the store set up, with its plain (not secret) options."""
    rows = await conn.execute(select(store_channels.c.channel, store_channels.c.provider, store_channels.c.settings)
                              .where(store_channels.c.store_id == store_id, store_channels.c.role == PRIMARY))
    return {ChannelKind(r.channel): (r.provider, dict(r.settings)) for r in rows}


async def shown_setups(conn: AsyncConnection, store_id: int) -> list[dict[str, Any]]:
    """The store's providers as the CLI and API show them (secrets masked, never opened)."""
    rows = await conn.execute(select(store_channels).where(store_channels.c.store_id == store_id)
                              .order_by(store_channels.c.channel, store_channels.c.role))
    out = []
    for r in rows:
        spec = provider(r.provider)
        secret_names = sorted(spec.options.SECRETS)
        out.append({"channel": r.channel, "role": r.role, "provider": r.provider,
                    "options": spec.masked(dict(r.settings), [n for n in secret_names]), "rate": r.rate,
                    "default_rate": spec.default_rate, "updated_at": r.updated_at.isoformat()})
    return out


_PREFS = select(store_channel_settings).where(in_keys(store_channel_settings.c.store_id, "ids"))


async def load_prefs(conn: AsyncConnection, store_ids: Iterable[int]) -> dict[int, ChannelPrefs]:
    ids = sorted(set(store_ids))
    found = {sid: ChannelPrefs() for sid in ids}
    if not ids:
        return found
    for r in await conn.execute(_PREFS, {"ids": ids}):
        found[r.store_id] = ChannelPrefs(tuple(ChannelKind(c) for c in r.channel_order), bool(r.line_notifications),
                                         r.line_paused_until, r.sms_help or "")
    return found


async def update_prefs(conn: AsyncConnection, store_id: int, now: datetime, *,
                       order: Sequence[str] | None = None, line_notifications: bool | None = None,
                       line_paused_until: datetime | bool | None = False, sms_help: str | None = None,
                       ) -> ChannelPrefs:
    """Change what is given (``line_paused_until=None`` clears the pause; leaving it out keeps it)."""
    current = (await load_prefs(conn, [store_id]))[store_id]
    values: dict[str, Any] = {
        "channel_order": [c.value for c in (parse_order(order) if order is not None else current.order)],
        "line_notifications": current.line_notifications if line_notifications is None else line_notifications,
        "line_paused_until": current.line_paused_until if line_paused_until is False else line_paused_until,
        "sms_help": current.sms_help if sms_help is None else sms_help.strip()[:480],
        "updated_at": now,
    }
    updated = await conn.execute(store_channel_settings.update().where(
        store_channel_settings.c.store_id == store_id).values(**values))
    if updated.rowcount == 0:
        await conn.execute(store_channel_settings.insert().values(store_id=store_id, **values))
    return (await load_prefs(conn, [store_id]))[store_id]


def next_line_month(now: datetime) -> datetime:
    """The start of next month in Japan time (when LINE's monthly quota starts again), as UTC."""
    local = now.astimezone(LINE_MONTH_ZONE)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=LINE_MONTH_ZONE).astimezone(UTC)

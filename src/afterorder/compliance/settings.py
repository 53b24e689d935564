"""A store's compliance settings: its marketing rule, China's AD prefix, double opt-in, quiet hours,
caps and DKIM key.  A store without a ``store_compliance`` row has the defaults of its country."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.key_lists import in_keys
from afterorder.db.schema import marketing_caps, store_compliance, stores
from afterorder.keys.stored import DkimKey


class MarketingRule(StrEnum):
    OPT_IN = "opt-in"  # only customers who said yes (JP 特定電子メール法, CN, CA CASL express consent)
    SOFT_OPT_IN = "soft-opt-in"  # also customers who bought and did not object (EU ePrivacy art. 13(2), UK PECR)
    OPT_OUT = "opt-out"  # everyone who did not unsubscribe (US CAN-SPAM)


# Countries whose law lets a seller mail its own customers about similar goods unless they object.
_SOFT_OPT_IN = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE GB IS LI NO CH".split())
_OPT_OUT = frozenset({"US"})
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def default_rule(country: str) -> MarketingRule:
    """The marketing rule a store in ``country`` starts with: opt-in unless the law there is laxer."""
    country = country.upper()
    if country in _OPT_OUT:
        return MarketingRule.OPT_OUT
    if country in _SOFT_OPT_IN:
        return MarketingRule.SOFT_OPT_IN
    return MarketingRule.OPT_IN


class SettingsError(ValueError):
    """A compliance setting was given a value it cannot take; the message names it."""


@dataclass(frozen=True)
class Cap:
    max_messages: int
    window_hours: int


@dataclass(frozen=True)
class ComplianceSettings:
    rule: MarketingRule
    china_ad_prefix: bool = False
    double_opt_in: bool = False
    quiet_start: time | None = None
    quiet_end: time | None = None
    caps: dict[str, Cap] = field(default_factory=dict)  # by channel
    dkim: DkimKey | None = None
    timezone: str = "UTC"  # the store's, for customers without one

    def public(self) -> dict[str, Any]:
        return {
            "marketing_rule": self.rule.value, "china_ad_prefix": self.china_ad_prefix,
            "double_opt_in": self.double_opt_in,
            "quiet_hours": (f"{self.quiet_start:%H:%M}-{self.quiet_end:%H:%M}"
                            if self.quiet_start and self.quiet_end else None),
            "caps": {ch: {"max_messages": c.max_messages, "window_hours": c.window_hours}
                     for ch, c in sorted(self.caps.items())},
            "dkim": {"selector": self.dkim.selector, "domain": self.dkim.domain} if self.dkim else None,
        }


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """``"21:00-08:00"`` → (21:00, 08:00); ``"off"`` or ``""`` → None."""
    if value.strip().lower() in ("", "off", "none"):
        return None
    start, dash, end = value.strip().partition("-")
    if not dash or not _HHMM.match(start.strip()) or not _HHMM.match(end.strip()) or start.strip() == end.strip():
        raise SettingsError(f"quiet hours: {value!r} is not HH:MM-HH:MM (e.g. 21:00-08:00), or 'off'")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def parse_cap(value: str) -> tuple[str, Cap | None]:
    """``"email:3/168"`` (3 per 168 hours on email) → ("email", Cap(3, 168)); ``"email:off"`` → ("email", None)."""
    channel, colon, rest = value.partition(":")
    channel = channel.strip().lower()
    if not colon or not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", channel):
        raise SettingsError(f"cap: {value!r} is not CHANNEL:N/HOURS (e.g. email:3/168) or CHANNEL:off")
    if rest.strip().lower() == "off":
        return channel, None
    count, slash, hours = rest.partition("/")
    if not slash or not count.strip().isdigit() or not hours.strip().isdigit() or int(hours) < 1:
        raise SettingsError(f"cap: {value!r} is not CHANNEL:N/HOURS (e.g. email:3/168) or CHANNEL:off")
    return channel, Cap(int(count), int(hours))


# Built once (read for every batch the scheduler and delivery take).
_STORES = select(stores.c.id, stores.c.country, stores.c.timezone).where(
    in_keys(stores.c.id, "ids"))
_COMPLIANCE = select(store_compliance).where(in_keys(store_compliance.c.store_id, "ids"))
_CAPS = select(marketing_caps).where(in_keys(marketing_caps.c.store_id, "ids"))


async def load_settings(conn: AsyncConnection, store_ids: Iterable[int]) -> dict[int, ComplianceSettings]:
    """Settings of each store in ``store_ids`` (its country's defaults where it has no row)."""
    ids = set(store_ids)
    if not ids:
        return {}
    found: dict[int, ComplianceSettings] = {}
    wanted = {"ids": list(ids)}
    base = {r.id: r for r in await conn.execute(_STORES, wanted)}
    rows = {r.store_id: r for r in await conn.execute(_COMPLIANCE, wanted)}
    caps: dict[int, dict[str, Cap]] = {}
    for c in await conn.execute(_CAPS, wanted):
        caps.setdefault(c.store_id, {})[c.channel] = Cap(c.max_messages, c.window_hours)
    for store_id, store in base.items():
        row = rows.get(store_id)
        if row is None:
            found[store_id] = ComplianceSettings(default_rule(store.country), caps=caps.get(store_id, {}),
                                                 timezone=store.timezone)
            continue
        dkim = (DkimKey(row.dkim_selector, row.dkim_domain, row.dkim_private_key)
                if row.dkim_selector and row.dkim_domain and row.dkim_private_key else None)
        found[store_id] = ComplianceSettings(
            MarketingRule(row.marketing_rule), bool(row.china_ad_prefix), bool(row.double_opt_in),
            time.fromisoformat(row.quiet_start) if row.quiet_start else None,
            time.fromisoformat(row.quiet_end) if row.quiet_end else None,
            caps.get(store_id, {}), dkim, store.timezone)
    return found


async def load_one(conn: AsyncConnection, store_id: int) -> ComplianceSettings:
    return (await load_settings(conn, [store_id]))[store_id]



async def update_settings(
    conn: AsyncConnection, store_id: int, now: datetime, *, rule: str | None = None,
    china_ad_prefix: bool | None = None, double_opt_in: bool | None = None, quiet_hours: str | None = None,
    caps: Iterable[str] = (), dkim: DkimKey | None = None,
) -> ComplianceSettings:
    """Change the settings given (the rest stay); returns the settings now in force."""
    current = await load_one(conn, store_id)
    values: dict[str, Any] = {
        "marketing_rule": current.rule.value, "china_ad_prefix": current.china_ad_prefix,
        "double_opt_in": current.double_opt_in,
        "quiet_start": f"{current.quiet_start:%H:%M}" if current.quiet_start else None,
        "quiet_end": f"{current.quiet_end:%H:%M}" if current.quiet_end else None,
        "dkim_selector": current.dkim.selector if current.dkim else None,
        "dkim_domain": current.dkim.domain if current.dkim else None,
        "dkim_private_key": current.dkim.private_key if current.dkim else None,
    }
    if rule is not None:
        try:
            values["marketing_rule"] = MarketingRule(rule).value
        except ValueError:
            raise SettingsError(f"marketing rule: {rule!r} is not one of "
                                f"{', '.join(r.value for r in MarketingRule)}") from None
    if china_ad_prefix is not None:
        values["china_ad_prefix"] = china_ad_prefix
    if double_opt_in is not None:
        values["double_opt_in"] = double_opt_in
    if quiet_hours is not None:
        hours = parse_quiet_hours(quiet_hours)
        values["quiet_start"] = f"{hours[0]:%H:%M}" if hours else None
        values["quiet_end"] = f"{hours[1]:%H:%M}" if hours else None
    if dkim is not None:
        values.update(dkim_selector=dkim.selector, dkim_domain=dkim.domain, dkim_private_key=dkim.private_key)
    parsed = [parse_cap(c) for c in caps]
    updated = await conn.execute(store_compliance.update().where(store_compliance.c.store_id == store_id)
                                 .values(**values, updated_at=now))
    if updated.rowcount == 0:
        await conn.execute(store_compliance.insert().values(store_id=store_id, **values, updated_at=now))
    for channel, cap in parsed:
        await conn.execute(marketing_caps.delete().where(marketing_caps.c.store_id == store_id,
                                                         marketing_caps.c.channel == channel))
        if cap is not None:
            await conn.execute(marketing_caps.insert().values(store_id=store_id, channel=channel,
                                                              max_messages=cap.max_messages,
                                                              window_hours=cap.window_hours))
    return await load_one(conn, store_id)

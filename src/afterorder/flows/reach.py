"""What the scheduler reads, once per batch, to choose each message's channel: every store's
channels set up and preferences (``StoreReach``), and which customers said yes to marketing by SMS."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import ChannelKind
from afterorder.channels.setup import PRIMARY, load_prefs
from afterorder.compliance.consent import MARKETING, ConsentStatus
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import consents, store_channels
from afterorder.flows.channel_choice import StoreReach

_CONFIGURED = select(store_channels.c.store_id, store_channels.c.channel, store_channels.c.settings).where(
    in_keys(store_channels.c.store_id, "ids"), store_channels.c.role == PRIMARY)
_SMS_YES = select(consents.c.store_id, consents.c.customer_id).where(
    in_keys(consents.c.store_id, "stores"), in_keys(consents.c.customer_id, "customers"),
    consents.c.channel == ChannelKind.SMS.value, consents.c.purpose == MARKETING,
    consents.c.status == ConsentStatus.GRANTED.value)


async def load_reach(conn: AsyncConnection, store_ids: Iterable[int], now: datetime) -> dict[int, StoreReach]:
    ids = sorted(set(store_ids))
    configured: dict[int, set[ChannelKind]] = {sid: {ChannelKind.EMAIL} for sid in ids}
    linkable: set[int] = set()
    for r in await conn.execute(_CONFIGURED, {"ids": ids}):
        configured[r.store_id].add(ChannelKind(r.channel))
        if r.channel == ChannelKind.LINE.value and (r.settings or {}).get("basic_id"):
            linkable.add(r.store_id)
    prefs = await load_prefs(conn, ids)
    return {sid: StoreReach(frozenset(configured[sid]), prefs[sid].order, prefs[sid].line_paused(now),
                            prefs[sid].line_notifications, sid in linkable, prefs[sid].amp_email) for sid in ids}


async def sms_consents(conn: AsyncConnection, subjects: Iterable[tuple[int, int | None]]) -> set[tuple[int, int]]:
    """The (store, customer) pairs among ``subjects`` who said yes to marketing by SMS."""
    wanted = {(s, c) for s, c in subjects if c is not None}
    if not wanted:
        return set()
    rows = await conn.execute(_SMS_YES, {"stores": sorted({s for s, _ in wanted}),
                                         "customers": sorted({c for _, c in wanted})})
    return {(r.store_id, r.customer_id) for r in rows} & wanted

"""The preference centre: which channels a customer takes marketing on, and which topics.

What the page shows is what is in force (a channel with no record shows what the store's rule
allows; a topic with no record is on), and only what the customer changes is recorded.  Topics are
purposes ``topic:<name>`` on email; a withdrawn channel stops all marketing on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.consent import (
    CHANNELS,
    EMAIL,
    MARKETING,
    TOPICS,
    Change,
    ConsentMethod,
    ConsentStatus,
    current,
    marketing_allowed,
    record,
)
from afterorder.compliance.settings import load_one
from afterorder.db.schema import orders


@dataclass(frozen=True)
class Preferences:
    channels: dict[str, bool]
    topics: dict[str, bool]


def topic_purpose(topic: str) -> str:
    return f"topic:{topic}"


async def load_preferences(conn: AsyncConnection, store_id: int, customer_id: int) -> Preferences:
    rule = (await load_one(conn, store_id)).rule
    state = await current(conn, store_id, [customer_id], channel=None, purpose=None)
    bought = (await conn.execute(select(orders.c.id).where(
        orders.c.store_id == store_id, orders.c.customer_id == customer_id).limit(1))).first() is not None
    channels = {ch: marketing_allowed(rule, state.get((customer_id, ch, MARKETING)), bought) for ch in CHANNELS}
    topics = {t: state.get((customer_id, EMAIL, topic_purpose(t))) != ConsentStatus.WITHDRAWN for t in TOPICS}
    return Preferences(channels, topics)


async def save_preferences(conn: AsyncConnection, store_id: int, customer_id: int, chosen: Preferences, *,
                           wording: str, source_ip: str | None, now: datetime) -> list[Change]:
    """Record what differs from what is in force; returns the changes recorded."""
    shown = await load_preferences(conn, store_id, customer_id)
    changes: list[Change] = []
    for channel, on in chosen.channels.items():
        if channel in shown.channels and shown.channels[channel] != on:
            changes.append(Change(store_id, customer_id, ConsentStatus.GRANTED if on else ConsentStatus.WITHDRAWN,
                                  ConsentMethod.PREFERENCE_CENTRE, channel, MARKETING, wording, source_ip))
    for topic, on in chosen.topics.items():
        if topic in shown.topics and shown.topics[topic] != on:
            changes.append(Change(store_id, customer_id, ConsentStatus.GRANTED if on else ConsentStatus.WITHDRAWN,
                                  ConsentMethod.PREFERENCE_CENTRE, EMAIL, topic_purpose(topic), wording, source_ip))
    return await record(conn, changes, now)

"""Consent per customer, channel and purpose: the current state and an append-only record of
every change (when, how, the wording shown, the source IP).

A change is recorded only when the state really changes: the same "yes" sent on every order
event writes nothing.  Whether marketing may go out is decided by the store's rule:

========== ============================================================================
opt-in      only a customer whose consent is ``granted``
soft-opt-in ``granted``, or a customer who bought and never objected (no ``withdrawn``)
opt-out     everyone who has not withdrawn
========== ============================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.settings import MarketingRule
from afterorder.db.schema import consent_changes, consents, customers, orders

MARKETING = "marketing"
EMAIL = "email"
CHANNELS = ("email", "sms")
TOPICS = ("new-products", "offers", "reviews")  # preference-centre topics: purpose "topic:<name>"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    PENDING = "pending"  # asked for, waiting for the double opt-in confirmation click


class ConsentMethod(StrEnum):
    IMPORT = "import"
    CHECKOUT = "checkout"  # the checkout checkbox (checkout.* events)
    API = "api"  # customer.accepts_marketing on an event sent through the API
    FORM = "form"  # a sign-up form, reported through POST /api/v1/consents
    DOUBLE_OPT_IN = "double_opt_in"  # the confirmation link was clicked
    UNSUBSCRIBE_LINK = "unsubscribe_link"  # the footer link's page, confirmed with its button
    ONE_CLICK = "one_click"  # RFC 8058 POST from the mail client
    PREFERENCE_CENTRE = "preference_centre"
    ADMIN = "admin"  # the CLI


def marketing_allowed(rule: MarketingRule, status: str | None, has_purchased: bool) -> bool:
    if status == ConsentStatus.GRANTED:
        return True
    if status == ConsentStatus.WITHDRAWN:
        return False
    if rule is MarketingRule.OPT_OUT:
        return True
    if rule is MarketingRule.SOFT_OPT_IN:
        return has_purchased and status is None
    return False


@dataclass(frozen=True)
class Change:
    store_id: int
    customer_id: int
    status: ConsentStatus
    method: ConsentMethod
    channel: str = EMAIL
    purpose: str = MARKETING
    wording: str = ""
    source_ip: str | None = None
    event_id: int | None = None
    outbox_id: int | None = None


async def current(conn: AsyncConnection, store_id: int, customer_ids: Iterable[int],
                  channel: str | None = EMAIL, purpose: str | None = MARKETING) -> dict[tuple[int, str, str], str]:
    """``{(customer_id, channel, purpose): status}`` for the rows that exist."""
    ids = set(customer_ids)
    if not ids:
        return {}
    query = select(consents.c.customer_id, consents.c.channel, consents.c.purpose, consents.c.status).where(
        consents.c.store_id == store_id, consents.c.customer_id.in_(ids))
    if channel is not None:
        query = query.where(consents.c.channel == channel)
    if purpose is not None:
        query = query.where(consents.c.purpose == purpose)
    return {(r.customer_id, r.channel, r.purpose): r.status for r in await conn.execute(query)}


async def record(conn: AsyncConnection, changes: Sequence[Change], now: datetime) -> list[Change]:
    """Apply ``changes`` in order; returns those that changed something (and were recorded)."""
    done: list[Change] = []
    for change in changes:
        key = (change.customer_id, change.channel, change.purpose)
        before = (await current(conn, change.store_id, [change.customer_id], change.channel, change.purpose)).get(key)
        if before == change.status.value:
            continue
        if before is None:
            await conn.execute(consents.insert().values(
                store_id=change.store_id, customer_id=change.customer_id, channel=change.channel,
                purpose=change.purpose, status=change.status.value, updated_at=now))
        else:
            await conn.execute(consents.update().where(
                consents.c.store_id == change.store_id, consents.c.customer_id == change.customer_id,
                consents.c.channel == change.channel, consents.c.purpose == change.purpose,
            ).values(status=change.status.value, updated_at=now, confirmation_queued_at=None))
        await conn.execute(consent_changes.insert().values(
            store_id=change.store_id, customer_id=change.customer_id, channel=change.channel,
            purpose=change.purpose, status=change.status.value, previous=before, method=change.method.value,
            wording=change.wording, source_ip=change.source_ip, event_id=change.event_id,
            outbox_id=change.outbox_id, at=now))
        if change.channel == EMAIL and change.purpose == MARKETING:  # kept in step for readers of the column
            await conn.execute(customers.update().where(
                customers.c.store_id == change.store_id, customers.c.id == change.customer_id,
            ).values(accepts_marketing=change.status is ConsentStatus.GRANTED))
        done.append(change)
    return done


async def history(conn: AsyncConnection, store_id: int, customer_id: int) -> list[dict[str, Any]]:
    rows = await conn.execute(select(consent_changes).where(
        consent_changes.c.store_id == store_id, consent_changes.c.customer_id == customer_id,
    ).order_by(consent_changes.c.id))
    return [dict(r) for r in rows.mappings()]


@dataclass(frozen=True)
class MarketingView:
    """What rendering and delivery need to know about customers' marketing consent."""

    status: dict[tuple[int, int], str]  # (store, customer) → status on email / marketing
    purchased: set[tuple[int, int]]

    def allowed(self, rule: MarketingRule, store_id: int, customer_id: int | None) -> bool:
        if customer_id is None:
            return False
        key = (store_id, customer_id)
        return marketing_allowed(rule, self.status.get(key), key in self.purchased)


async def marketing_view(conn: AsyncConnection, subjects: Iterable[tuple[int, int | None]],
                         channel: str = EMAIL) -> MarketingView:
    """Consent and "has bought" for each (store, customer), one query each."""
    wanted = {(s, c) for s, c in subjects if c is not None}
    if not wanted:
        return MarketingView({}, set())
    store_ids = {s for s, _ in wanted}
    customer_ids = {c for _, c in wanted}
    status = {(r.store_id, r.customer_id): r.status for r in await conn.execute(
        select(consents.c.store_id, consents.c.customer_id, consents.c.status).where(
            consents.c.store_id.in_(store_ids), consents.c.customer_id.in_(customer_ids),
            consents.c.channel == channel, consents.c.purpose == MARKETING))}
    purchased = {(r.store_id, r.customer_id) for r in await conn.execute(
        select(orders.c.store_id, orders.c.customer_id).distinct().where(
            orders.c.store_id.in_(store_ids), orders.c.customer_id.in_(customer_ids)))}
    return MarketingView({k: v for k, v in status.items() if k in wanted}, purchased & wanted)

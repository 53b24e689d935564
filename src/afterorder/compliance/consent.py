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

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.settings import MarketingRule
from afterorder.db.key_lists import in_keys
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
    MAILTO = "mailto"  # a mail to the List-Unsubscribe mailto: address, passed on by the store
    PREFERENCE_CENTRE = "preference_centre"
    SMS_KEYWORD = "sms_keyword"  # an inbound SMS: STOP withdraws, START / UNSTOP grants (feedback/sms_replies.py)
    THANK_YOU_PAGE = "thank-you-page"  # the opt-in of the block on the store's order confirmation page (thank_you/)


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


Key = tuple[int, int, str, str]  # store, customer, channel, purpose


def _key(change: Change) -> Key:
    return (change.store_id, change.customer_id, change.channel, change.purpose)


async def _states(conn: AsyncConnection, keys: set[Key]) -> dict[Key, str]:
    found: dict[Key, str] = {}
    for store_id in {k[0] for k in keys}:
        ids = {k[1] for k in keys if k[0] == store_id}
        for (customer_id, channel, purpose), status in (
                await current(conn, store_id, ids, channel=None, purpose=None)).items():
            if (store_id, customer_id, channel, purpose) in keys:
                found[(store_id, customer_id, channel, purpose)] = status
    return found


async def record(conn: AsyncConnection, changes: Sequence[Change], now: datetime,
                 known: dict[Key, str | None] | None = None) -> list[Change]:
    """Apply ``changes`` in order; returns those that changed something (and were recorded).

    ``known`` gives the current states when the caller has read them already; a few statements
    write the lot (executemany), whatever the number of changes."""
    if not changes:
        return []
    keys = {_key(c) for c in changes}
    state: dict[Key, str | None] = dict(known) if known is not None else dict(await _states(conn, keys))
    first_before: dict[Key, str | None] = {}
    done: list[tuple[Change, str | None]] = []
    for change in changes:
        key = _key(change)
        before = state.get(key)
        if before == change.status.value:
            continue
        first_before.setdefault(key, before)
        state[key] = change.status.value
        done.append((change, before))
    if not done:
        return []
    fresh = [k for k, before in first_before.items() if before is None]
    existing = [k for k, before in first_before.items() if before is not None]
    if fresh:
        await conn.execute(consents.insert(), [
            {"store_id": k[0], "customer_id": k[1], "channel": k[2], "purpose": k[3], "status": state[k],
             "updated_at": now} for k in fresh])
    if existing:
        await conn.execute(consents.update().where(
            consents.c.store_id == bindparam("k_store"), consents.c.customer_id == bindparam("k_customer"),
            consents.c.channel == bindparam("k_channel"), consents.c.purpose == bindparam("k_purpose"),
        ).values(status=bindparam("k_status"), updated_at=now, confirmation_queued_at=None), [
            {"k_store": k[0], "k_customer": k[1], "k_channel": k[2], "k_purpose": k[3], "k_status": state[k]}
            for k in existing])
    await conn.execute(consent_changes.insert(), [
        {"store_id": c.store_id, "customer_id": c.customer_id, "channel": c.channel, "purpose": c.purpose,
         "status": c.status.value, "previous": before, "method": c.method.value, "wording": c.wording,
         "source_ip": c.source_ip, "event_id": c.event_id, "outbox_id": c.outbox_id, "at": now}
        for c, before in done])
    marketing = [k for k in first_before if k[2] == EMAIL and k[3] == MARKETING]
    if marketing:  # kept in step for readers of the column
        await conn.execute(customers.update().where(
            customers.c.store_id == bindparam("k_store"), customers.c.id == bindparam("k_customer"),
        ).values(accepts_marketing=bindparam("k_accepts")), [
            {"k_store": k[0], "k_customer": k[1], "k_accepts": state[k] == ConsentStatus.GRANTED.value}
            for k in marketing])
    return [c for c, _ in done]


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


_MARKETING_CONSENTS = select(consents.c.store_id, consents.c.customer_id, consents.c.status).where(
    in_keys(consents.c.store_id, "stores"),
    in_keys(consents.c.customer_id, "customers"),
    consents.c.channel == bindparam("channel"), consents.c.purpose == MARKETING)
_BUYERS = select(orders.c.store_id, orders.c.customer_id).distinct().where(
    in_keys(orders.c.store_id, "stores"),
    in_keys(orders.c.customer_id, "customers"))


async def marketing_view(conn: AsyncConnection, subjects: Iterable[tuple[int, int | None]],
                         channel: str = EMAIL) -> MarketingView:
    """Consent and "has bought" for each (store, customer), one query each."""
    wanted = {(s, c) for s, c in subjects if c is not None}
    if not wanted:
        return MarketingView({}, set())
    store_ids = {s for s, _ in wanted}
    customer_ids = {c for _, c in wanted}
    keys = {"stores": list(store_ids), "customers": list(customer_ids)}
    status = {(r.store_id, r.customer_id): r.status
              for r in await conn.execute(_MARKETING_CONSENTS, {**keys, "channel": channel})}
    purchased = {(r.store_id, r.customer_id) for r in await conn.execute(_BUYERS, keys)}
    return MarketingView({k: v for k, v in status.items() if k in wanted}, purchased & wanted)

"""Double opt-in: a customer who said yes to marketing at a store that asks for it is ``pending``
until they click the link in a confirmation mail; only then is consent granted.

The confirmation mail is a transactional outbox message (template ``confirm-subscription``) with a
signed link to ``/confirm/STORE-SLUG/TOKEN``.  That page asks them to press a button (a POST): a
GET never grants anything, since mail scanners open links by themselves.  A pending consent whose
mail was queued is marked so it is written once; a new "yes" after a withdrawal queues a new one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels.email.mime import build_email, message_id_for
from afterorder.compliance.consent import EMAIL, MARKETING, ConsentStatus
from afterorder.compliance.tokens import confirm_token
from afterorder.content import Renderer, resolve_locale
from afterorder.content.snapshots import customer_snapshot
from afterorder.db.schema import consents, customers
from afterorder.db.stores import get_store_by_id
from afterorder.delivery.outbox import OutboxMessage, write_messages
from afterorder.keys.signers import StoreSigners

TEMPLATE = "confirm-subscription"


def confirm_url(base_url: str, slug: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/confirm/{slug}/{token}"


async def queue_confirmations(engine: AsyncEngine, renderer: Renderer, now: datetime, base_url: str,
                              signers: StoreSigners, limit: int = 200) -> int:
    """Write a confirmation mail for each pending consent that has none yet; returns how many.
    ``signers`` signs the links with each store's key."""
    async with engine.connect() as conn:
        pending = (await conn.execute(
            select(consents.c.store_id, consents.c.customer_id, consents.c.updated_at, customers.c.email,
                   customers.c.first_name, customers.c.last_name, customers.c.locale, customers.c.timezone,
                   customers.c.country)
            .join(customers, (customers.c.id == consents.c.customer_id) & (customers.c.store_id == consents.c.store_id))
            .where(consents.c.status == ConsentStatus.PENDING.value, consents.c.channel == EMAIL,
                   consents.c.purpose == MARKETING, consents.c.confirmation_queued_at.is_(None))
            .limit(limit))).mappings().all()
        stores = {s: await get_store_by_id(conn, s) for s in {p["store_id"] for p in pending}}
    if not pending:
        return 0
    messages: list[OutboxMessage] = []
    for p in pending:
        store = stores[p["store_id"]]
        assert store is not None
        if not p["email"]:
            continue
        snapshot = store.snapshot(base_url)
        key = f"confirm:{p['customer_id']}:{int(p['updated_at'].timestamp())}"
        message_id = message_id_for(snapshot, key)
        locale = resolve_locale(p["locale"], renderer.locales_for(TEMPLATE), store.locale)
        link = confirm_url(base_url, store.slug, confirm_token(signers.of(store), p["customer_id"]))
        rendered = renderer.render(TEMPLATE, locale, store=snapshot, customer=customer_snapshot(dict(p)),
                                   links={"confirm": link})
        data = build_email(snapshot, to=p["email"], rendered=rendered, message_id=message_id,
                           category="transactional", date=now)
        messages.append(OutboxMessage(
            store_id=store.id, idempotency_key=key, message_id=message_id, category="transactional",
            template=TEMPLATE, customer_id=p["customer_id"], envelope_from=store.email_from, locale=locale,
            recipient=p["email"], subject=rendered.subject, data=data.decode("utf-8"), created_at=now,
            next_attempt_at=now))
    async with engine.begin() as conn:
        await write_messages(conn, messages)
        for p in pending:
            await conn.execute(consents.update().where(
                consents.c.store_id == p["store_id"], consents.c.customer_id == p["customer_id"],
                consents.c.channel == EMAIL, consents.c.purpose == MARKETING,
                consents.c.status == ConsentStatus.PENDING.value, consents.c.updated_at == p["updated_at"],
            ).values(confirmation_queued_at=now))
    return len(messages)

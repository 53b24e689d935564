"""Test-side setup for the feedback receivers: a store's LINE / Twilio channel, customers, messages
as delivery leaves them once a provider took them, and what the database then says."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from afterorder.channels.setup import set_provider
from afterorder.db.schema import consent_changes, customers, outbox, suppressions
from afterorder.db.stores import StoreRow
from afterorder.domain import Event
from afterorder.keys.sealing import new_key
from afterorder.runtime import Runtime


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The installation's key for sealed credentials (no key file is written anywhere)."""
    key = new_key()
    monkeypatch.setenv("AFTERORDER_SECRET_KEY", key)
    yield key


async def add_channel(runtime: Runtime, store: StoreRow, provider: str, options: dict[str, Any]) -> None:
    """The store's channel set up as ``afterorder channels set`` does it (options checked, secrets sealed)."""
    async with runtime.engine.begin() as conn:
        await set_provider(conn, runtime.sealer, store.id, provider, options, runtime.clock.now())


async def add_customer(runtime: Runtime, store: StoreRow, external_id: str, *, email: str | None = None,
                       phone: str | None = None, locale: str | None = "ja") -> int:
    """A customer, through the intake as a store would send them; their id."""
    customer: dict[str, Any] = {"id": external_id, "email": email or f"{external_id}@example.com"}
    if locale:
        customer["locale"] = locale
    if phone:
        customer["phone"] = phone
    await runtime.intake.ingest(store, [Event.model_validate({
        "id": f"customer:{external_id}", "type": "customer.created", "occurred_at": runtime.clock.now().isoformat(),
        "customer": customer})])
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(customers.c.id).where(
            customers.c.store_id == store.id, customers.c.external_id == external_id))).scalar_one())


async def set_line_user(runtime: Runtime, customer_id: int, user_id: str, following: bool | None) -> None:
    """The customer as a finished account link leaves them."""
    async with runtime.engine.begin() as conn:
        await conn.execute(customers.update().where(customers.c.id == customer_id).values(
            line_user_id=user_id, line_following=following, line_changed_at=None))


async def customer_row(runtime: Runtime, customer_id: int) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        return dict((await conn.execute(select(customers).where(customers.c.id == customer_id))).mappings().one())


async def sent_message(runtime: Runtime, store: StoreRow, *, channel: str, recipient: str, provider: str,
                       provider_message_id: str | None, customer_id: int | None = None,
                       template: str = "shipping-confirmation") -> int:
    """An outbox row as delivery leaves it once the provider took the message (status ``sent``, the
    provider's id for it kept); its id."""
    now: datetime = runtime.clock.now()
    key = f"test:{uuid.uuid4().hex}"
    async with runtime.engine.begin() as conn:
        made = await conn.execute(outbox.insert().values(
            store_id=store.id, idempotency_key=key, message_id=f"<ao.{uuid.uuid4().hex[:24]}@kumo.example>",
            channel=channel, category="transactional", template=template, locale="ja", customer_id=customer_id,
            envelope_from=store.email_from, recipient=recipient, subject="", status="sent", attempts=1,
            next_attempt_at=now, created_at=now, sent_at=now, provider=provider,
            provider_message_id=provider_message_id).returning(outbox.c.id))
        return int(made.scalar_one())


async def message_row(runtime: Runtime, outbox_id: int) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        return dict((await conn.execute(select(outbox).where(outbox.c.id == outbox_id))).mappings().one())


async def suppressed(runtime: Runtime) -> list[tuple[str | None, str, str]]:
    async with runtime.engine.connect() as conn:
        return [(r.address, r.reason, r.source) for r in await conn.execute(
            select(suppressions).order_by(suppressions.c.id))]


async def consent_log(runtime: Runtime, customer_id: int) -> list[tuple[str, str, str, str | None, str]]:
    """(channel, status, method, previous, wording) of every recorded change, oldest first."""
    async with runtime.engine.connect() as conn:
        return [(r.channel, r.status, r.method, r.previous, r.wording) for r in await conn.execute(
            select(consent_changes).where(consent_changes.c.customer_id == customer_id)
            .order_by(consent_changes.c.id))]

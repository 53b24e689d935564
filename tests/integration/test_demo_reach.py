"""How the demo's stores reach customers, on both databases: their LINE and SMS set up against the
demo's local providers (secrets sealed, the order of channels), a Kyoto customer with a LINE id made a
follower by the follow webhook the demo's LINE sends to the real receiver (and not by one signed with
another secret), a US customer's yes to SMS recorded with its wording."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from afterorder.channels.base import ChannelKind
from afterorder.channels.setup import load_prefs
from afterorder.clock import FrozenClock
from afterorder.compliance.consent import history
from afterorder.db.schema import customers, store_channels
from afterorder.db.stores import StoreRow, create_store
from afterorder.dev.demo import STORES
from afterorder.dev.demo_reach import after_order, line_user_id, reach, set_up_channels
from afterorder.dev.receivers import DevReceivers, start_dev_receivers
from afterorder.dev.sinks.line import LineSink
from afterorder.domain import Event
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import order_event, running


@pytest.fixture
async def dev() -> AsyncIterator[DevReceivers]:
    receivers = await start_dev_receivers()
    yield receivers
    await receivers.close()


async def demo_stores(runtime: Runtime, dev: DevReceivers) -> dict[str, StoreRow]:
    found = {}
    async with runtime.engine.begin() as conn:
        for spec in STORES:
            store, _ = await create_store(conn, runtime.clock.now(), **spec)
            await set_up_channels(conn, runtime.sealer, store, dev, runtime.clock.now())
            found[store.slug] = store
    return found


async def place(runtime: Runtime, store: StoreRow, index: int) -> dict[str, Any]:
    """An order of the store's ``index``-th demo customer, stored through the intake."""
    event = order_event("order.placed", f"o-{uuid.uuid4().hex[:8]}", runtime.clock.now())
    event["customer"]["id"] = f"c-{store.slug}-{index}"
    reach(store, event["customer"], index)
    await runtime.intake.ingest(store, [Event.model_validate(event)], source="test", raw=[event])
    customer: dict[str, Any] = event["customer"]
    return customer


async def customer_row(runtime: Runtime, store: StoreRow, external_id: str) -> Any:
    async with runtime.engine.connect() as conn:
        return (await conn.execute(select(customers).where(customers.c.store_id == store.id,
                                                           customers.c.external_id == external_id))).one()


async def test_the_demo_stores_send_on_line_and_sms_through_the_local_providers(
        database_url: str, dev: DevReceivers) -> None:
    async with running(database_url, FrozenClock(datetime.now(UTC))) as runtime:
        stores = await demo_stores(runtime, dev)
        async with runtime.engine.connect() as conn:
            rows = (await conn.execute(select(store_channels).order_by(store_channels.c.store_id,
                                                                       store_channels.c.channel))).all()
            prefs = await load_prefs(conn, [s.id for s in stores.values()])
    kumo, harbor = stores["kumo-tea"].id, stores["harbor-goods"].id
    assert [(r.store_id, r.channel, r.provider, r.settings.get("api_base")) for r in rows] == [
        (kumo, "line", "line", dev.line_url), (kumo, "sms", "twilio", dev.sms_url),
        (harbor, "sms", "twilio", dev.sms_url)]
    assert dev.line is not None and dev.sms is not None
    assert all(dev.line.token not in r.secrets and dev.sms.auth_token not in r.secrets for r in rows)  # sealed
    assert prefs[kumo].order == (ChannelKind.LINE, ChannelKind.EMAIL)
    assert prefs[harbor].order == (ChannelKind.SMS, ChannelKind.EMAIL)


async def test_a_kyoto_customer_with_a_line_id_follows_by_lines_own_webhook(
        database_url: str, dev: DevReceivers) -> None:
    async with running(database_url, FrozenClock(datetime.now(UTC))) as runtime:
        kumo = (await demo_stores(runtime, dev))["kumo-tea"]
        by_email, on_line = await place(runtime, kumo, 0), await place(runtime, kumo, 1)
        assert "line_user_id" not in by_email and on_line["line_user_id"] == line_user_id("c-kumo-tea-1")
        app = create_app(runtime, dev=dev)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            forged = await LineSink(channel_secret="not the channel's secret").follow(
                http, "http://127.0.0.1/webhooks/line/kumo-tea", on_line["line_user_id"])
            assert forged.status_code == 401
            assert (await customer_row(runtime, kumo, "c-kumo-tea-1")).line_following is None
            for customer in (by_email, on_line):
                await after_order(runtime, dev, http, "http://127.0.0.1", kumo, customer)
        follower = await customer_row(runtime, kumo, "c-kumo-tea-1")
        assert (follower.line_user_id, follower.line_following) == (on_line["line_user_id"], True)
        assert (await customer_row(runtime, kumo, "c-kumo-tea-0")).line_following is None


async def test_a_us_customer_with_a_phone_said_yes_to_texts_at_checkout(database_url: str, dev: DevReceivers) -> None:
    async with running(database_url, FrozenClock(datetime.now(UTC))) as runtime:
        harbor = (await demo_stores(runtime, dev))["harbor-goods"]
        mail_only, texted = await place(runtime, harbor, 0), await place(runtime, harbor, 1)
        async with httpx.AsyncClient() as http:
            for customer in (mail_only, texted):
                await after_order(runtime, dev, http, "http://127.0.0.1:9", harbor, customer)
        row, other = (await customer_row(runtime, harbor, "c-harbor-goods-1"),
                      await customer_row(runtime, harbor, "c-harbor-goods-0"))
        async with runtime.engine.connect() as conn:
            changes, none = await history(conn, harbor.id, row.id), await history(conn, harbor.id, other.id)
    assert row.phone == "+14155550101"
    assert [(c["channel"], c["purpose"], c["status"], c["method"]) for c in changes if c["channel"] == "sms"] == [
        ("sms", "marketing", "granted", "checkout")]
    assert "Reply STOP" in next(c["wording"] for c in changes if c["channel"] == "sms")
    assert not [c for c in none if c["channel"] == "sms"]

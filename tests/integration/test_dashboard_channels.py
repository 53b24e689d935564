"""The dashboard per channel, over HTTP against a hand-computed set of messages sent two days ago:

    order confirmation by email, 4 sent: #1 bounced, #2 and #3 opened by people, #4 only by Apple's
      prefetch, #2 clicked            → delivered 3, opened 2 (66.67 %), clicked 1 (33.33 %)
    on LINE, 3 sent: #1 and #2 clicked, #1 brought an order of 3,000 JPY
                                      → delivered 3, opens not reported, clicked 2 (66.67 %), 1 order,
                                        3000 JPY, 1000 JPY per recipient
    by SMS, 2 sent: #1 clicked, #2 bounced → delivered 1, clicked 1 (100.00 %)
    all: sent 9, delivered 7, open rate 2 of the 3 delivered mails = 66.67 % (not 2/7), clicked 4 (57.14 %)

and the notice a store sees while LINE's monthly quota is used up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.setup import next_line_month, update_prefs
from afterorder.clock import FrozenClock
from afterorder.db.schema import attributions, customers, engagements, events, flow_runs, orders, outbox
from afterorder.db.stores import StoreRow
from afterorder.runtime import Runtime
from tests.factories import running
from tests.integration.test_dashboard import client, log_in, text_of, users

USER_ID = "U" + "4af4980629" * 3 + "de"


class History:
    """Messages of the order confirmation, sent two days before ``now``."""

    def __init__(self, conn: AsyncConnection, store: StoreRow, now: datetime) -> None:
        self.conn, self.store, self.now, self.sent_at = conn, store, now, now - timedelta(days=2)
        self.count = 0
        self.customer = 0

    async def start(self) -> None:
        found = await self.conn.execute(insert(customers).values(
            store_id=self.store.id, external_id="c1", email="c1@example.com", locale="ja", accepts_marketing=True,
            created_at=self.now, updated_at=self.now))
        self.customer = int(found.inserted_primary_key[0])  # type: ignore[index]

    async def event(self, kind: str, payload: dict[str, object]) -> int:
        self.count += 1
        found = await self.conn.execute(insert(events).values(
            store_id=self.store.id, source="test", source_id=f"{kind}:{self.count}", type=kind,
            occurred_at=self.sent_at, received_at=self.sent_at, payload=payload))
        return int(found.inserted_primary_key[0])  # type: ignore[index]

    async def message(self, channel: str, recipient: str) -> int:
        trigger = await self.event("order.placed", {})
        run = await self.conn.execute(insert(flow_runs).values(
            store_id=self.store.id, flow_id="order-confirmation", flow_version="test", subject_key=f"order:{trigger}",
            customer_id=self.customer, trigger_event_id=trigger, status="done", step=1, anchor_at=self.sent_at,
            outcome="completed", started_at=self.sent_at, updated_at=self.now))
        key = f"run:{run.inserted_primary_key[0]}:step:0"  # type: ignore[index]
        found = await self.conn.execute(insert(outbox).values(
            store_id=self.store.id, run_id=run.inserted_primary_key[0], idempotency_key=key,  # type: ignore[index]
            message_id=f"<{key}@kumo.example>", channel=channel, category="transactional",
            template="order-confirmation", locale="ja", customer_id=self.customer, envelope_from="shop@kumo.example",
            recipient=recipient, subject="ご注文ありがとうございます", status="sent", attempts=1,
            next_attempt_at=self.sent_at, created_at=self.sent_at, sent_at=self.sent_at))
        return int(found.inserted_primary_key[0])  # type: ignore[index]

    async def touch(self, outbox_id: int, kind: str, machine: bool = False) -> None:
        event_id = await self.event(f"message.{'opened' if kind == 'open' else 'clicked'}", {})
        await self.conn.execute(insert(engagements).values(
            store_id=self.store.id, outbox_id=outbox_id, customer_id=self.customer, kind=kind, machine_open=machine,
            flow_id="order-confirmation", step=0, template="order-confirmation", event_id=event_id, at=self.sent_at))

    async def bounce(self, outbox_id: int) -> None:
        await self.event("message.bounced", {"message": {"outbox_id": outbox_id}})

    async def order_from(self, outbox_id: int, revenue: int) -> None:
        found = await self.conn.execute(insert(orders).values(
            store_id=self.store.id, external_id=f"o{outbox_id}", customer_id=self.customer, number=f"#{outbox_id}",
            currency="JPY", total=Decimal(revenue), status="placed", placed_at=self.sent_at, updated_at=self.now))
        await self.conn.execute(insert(attributions).values(
            store_id=self.store.id, order_id=found.inserted_primary_key[0], outbox_id=outbox_id,  # type: ignore[index]
            flow_id="order-confirmation", step=0, template="order-confirmation", revenue=Decimal(revenue),
            currency="JPY", kind="click", touched_at=self.sent_at, created_at=self.sent_at))


async def build(runtime: Runtime, store: StoreRow) -> None:
    async with runtime.engine.begin() as conn:
        history = History(conn, store, runtime.clock.now())
        await history.start()
        mails = [await history.message("email", "c1@example.com") for _ in range(4)]
        chats = [await history.message("line", USER_ID) for _ in range(3)]
        texts = [await history.message("sms", "+819012345678") for _ in range(2)]
        await history.bounce(mails[0])
        for n in (1, 2):
            await history.touch(mails[n], "open")
        await history.touch(mails[3], "open", machine=True)
        await history.touch(mails[1], "click")
        for outbox_id in (chats[0], chats[0], chats[1], texts[0]):
            await history.touch(outbox_id, "click")
        await history.order_from(chats[0], 3000)
        await history.bounce(texts[1])


async def test_the_messages_page_splits_every_figure_by_channel(database_url: str) -> None:
    async with running(database_url, FrozenClock(datetime.now(UTC))) as runtime:
        kumo, _ = await users(runtime)
        await build(runtime, kumo)
        async with client(runtime) as http:
            await log_in(http, "owner")
            page = (await http.get("/dashboard/kumo/messages")).text

    def channel(name: str, cell: str) -> str:
        return text_of(page, cell, f'<tr class="channel" data-channel="{name}">')

    assert [channel("email", c) for c in ("sent", "delivered", "opened", "open-rate", "clicked", "click-rate")] \
        == ["4", "3", "2", "66.67%", "1", "33.33%"]
    assert [channel("line", c) for c in ("sent", "delivered", "opened", "clicked", "click-rate", "orders", "revenue",
                                         "rpr")] \
        == ["3", "3", "not reported", "2", "66.67%", "1", "¥3,000", "¥1,000"]
    assert [channel("sms", c) for c in ("sent", "delivered", "opened", "clicked", "click-rate", "orders")] \
        == ["2", "1", "not reported", "1", "100.00%", "0"]
    assert page.index('data-channel="email"') < page.index('data-channel="line"') < page.index('data-channel="sms"')

    # each message's row is one channel's; the sum's open rate is of the mails only
    line_row = 'data-template="order-confirmation" data-channel="line"'
    assert text_of(page, "sent", line_row) == "3" and text_of(page, "open-rate", line_row) == "–"
    mail_row = 'data-template="order-confirmation" data-channel="email"'
    assert text_of(page, "open-rate", mail_row) == "66.67%"
    assert [text_of(page, c, '<tr id="total">') for c in ("sent", "delivered", "open-rate", "click-rate")] \
        == ["9", "7", "66.67%", "57.14%"]


async def test_a_store_whose_line_quota_is_used_up_sees_until_when_its_line_goes_by_email(
        database_url: str) -> None:
    now = datetime.now(UTC)
    async with running(database_url, FrozenClock(now)) as runtime:
        kumo, _ = await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "agency")
            assert 'id="line-paused"' not in (await http.get("/dashboard/kumo/flows")).text

            async with runtime.engine.begin() as conn:
                await update_prefs(conn, kumo.id, now, line_paused_until=next_line_month(now))
            day = next_line_month(now).astimezone(ZoneInfo("Asia/Tokyo")).date()
            resumes = f"{day:%b} {day.day}, {day.year}"  # in English, as Babel writes a date: Jan 1, 2027
            notice = ("LINE's monthly message quota is used up: LINE messages go by email until "
                      f"{resumes}.")
            for path in ("flows", "messages", "customers"):
                assert notice in (await http.get(f"/dashboard/kumo/{path}")).text, path
            assert 'id="line-paused"' not in (await http.get("/dashboard/harbor/flows")).text  # another store's

            async with runtime.engine.begin() as conn:  # a pause that has ended shows nothing
                await update_prefs(conn, kumo.id, now, line_paused_until=now - timedelta(minutes=1))
            assert 'id="line-paused"' not in (await http.get("/dashboard/kumo/flows")).text

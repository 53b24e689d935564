"""A small, fixed store history for the dashboard's numbers: every figure the pages show for it is
worked out by hand below, so tests can assert the HTML against them.

Store ``kumo`` (Asia/Tokyo, JPY), period 2026-11-01 … 2026-11-30.

delivery-follow-up, the send step (index 6), 10 messages sent in the period (6 on 11-10, 4 on 11-11):
  human opens on messages 1–5 (message 1 twice), Apple prefetch only on message 6   → opened 5
  clicks on messages 1–3 (message 1 twice)                                         → clicked 3
  orders attributed to message 1 (5,000 JPY) and message 2 (3,000 JPY)             → 2 orders, 8,000 JPY
  bounce on message 10, complaint on 9, unsubscribe on 8                           → delivered 9
  open rate 5/9 = 55.56%, click rate 3/9 = 33.33%, order rate 2/9 = 22.22%,
  revenue per recipient 8000/9 = 888.9 → 889 JPY (yen has no minor unit)
  and 2 skipped for "no marketing consent", 1 held for quiet hours; 3 runs wait at the 3-day wait (index 5).
order-confirmation, step 1: 2 messages sent in the period, nothing else; 1 sent in October (outside).

Orders (first-time buyers in the period: c1–c5):
  c1: 11-01 4,000, 11-12 5,000 (attributed)   c2: 11-01 2,000, 11-13 3,000 (attributed)
  c3: 11-02 1,000, 11-14 1,000                c4: 11-02 1,000     c5: 11-03 1,000
  delivery-follow-up messages 1 and 2 are about c1's and c2's first orders →
  second-order rate with the flow 2/2 = 100.00%, without 1/3 = 33.33%.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from afterorder.db.schema import attributions, customers, engagements, events, flow_runs, orders, outbox
from afterorder.db.stores import StoreRow
from afterorder.runtime import Runtime

DAY_A = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
DAY_B = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}

# The built-in delivery-follow-up's program: 0 if abroad, 1-3 the abroad waits, 4 wait for delivery,
# 5 wait 3 days, 6 send, 7 the end.
FOLLOW_WAIT, FOLLOW_SEND, FOLLOW_END = 5, 6, 7


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 3, 0, tzinfo=UTC)


async def build_history(runtime: Runtime, store: StoreRow) -> dict[str, Any]:
    now = runtime.clock.now()
    sid = store.id
    async with runtime.engine.begin() as conn:
        event_id = 0

        async def event(kind: str, payload: dict[str, Any], at: datetime) -> int:
            nonlocal event_id
            event_id += 1
            result = await conn.execute(insert(events).values(
                store_id=sid, source="test", source_id=f"{kind}:{event_id}", type=kind, occurred_at=at,
                received_at=at, payload=payload))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        cust: dict[int, int] = {}
        for n in range(1, 6):
            result = await conn.execute(insert(customers).values(
                store_id=sid, external_id=f"c{n}", email=f"c{n}@example.com", first_name=f"名{n}",
                last_name="山田", locale="ja", accepts_marketing=True, created_at=now, updated_at=now))
            cust[n] = int(result.inserted_primary_key[0])  # type: ignore[index]
        order_ids: dict[str, int] = {}
        for name, who, day, total in (("o1", 1, 1, 4000), ("o1b", 1, 12, 5000), ("o2", 2, 1, 2000),
                                      ("o2b", 2, 13, 3000), ("o3", 3, 2, 1000), ("o3b", 3, 14, 1000),
                                      ("o4", 4, 2, 1000), ("o5", 5, 3, 1000)):
            result = await conn.execute(insert(orders).values(
                store_id=sid, external_id=name, customer_id=cust[who], number=name, currency="JPY",
                total=Decimal(total), status="placed", placed_at=_at(day), updated_at=now))
            order_ids[name] = int(result.inserted_primary_key[0])  # type: ignore[index]
        trigger = await event("order.shipped", {}, _at(1))

        async def run(flow: str, status: str, step: int, customer: int | None, order: int | None) -> int:
            result = await conn.execute(insert(flow_runs).values(
                store_id=sid, flow_id=flow, flow_version="test", subject_key=f"order:{order or customer}",
                customer_id=customer, order_id=order, trigger_event_id=trigger, status=status, step=step,
                anchor_at=_at(1), wake_at=now + timedelta(days=1) if status == "waiting" else None,
                outcome=None if status == "waiting" else "completed", started_at=_at(1), updated_at=now))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        async def message(run_id: int, step: int, template: str, status: str, sent_at: datetime | None,
                          customer: int, order: int | None, error: str | None = None) -> int:
            key = f"run:{run_id}:step:{step}"
            result = await conn.execute(insert(outbox).values(
                store_id=sid, run_id=run_id, idempotency_key=key, message_id=f"<{key}@kumo.example>",
                channel="email", category="transactional", template=template, locale="ja", customer_id=customer,
                order_id=order, envelope_from=store.email_from, recipient="x@example.com", subject="件名",
                status=status, attempts=1, next_attempt_at=now, last_error=error, created_at=sent_at or now,
                sent_at=sent_at))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        follow: list[int] = []
        for n in range(1, 11):
            who = (n - 1) % 5 + 1
            order = order_ids["o1"] if n == 1 else order_ids["o2"] if n == 2 else None
            run_id = await run("delivery-follow-up", "done", FOLLOW_END, cust[who], order)
            sent_at = DAY_A if n <= 6 else DAY_B
            follow.append(await message(run_id, FOLLOW_SEND, "delivery-follow-up", "sent", sent_at, cust[who], order))
        for n in (1, 2):
            run_id = await run("delivery-follow-up", "done", FOLLOW_END, cust[n], None)
            await message(run_id, FOLLOW_SEND, "delivery-follow-up", "skipped", None, cust[n], None,
                          "no marketing consent")
        run_id = await run("delivery-follow-up", "waiting", FOLLOW_SEND, cust[3], None)
        await message(run_id, FOLLOW_SEND, "delivery-follow-up", "queued", None, cust[3], None,
                      "deferred: quiet hours until 2026-11-23T08:00:00+09:00")
        for n in (1, 2, 4):
            await run("delivery-follow-up", "waiting", FOLLOW_WAIT, cust[n], None)
        for n, sent_at in ((1, DAY_A), (2, DAY_B), (3, datetime(2026, 10, 20, 3, 0, tzinfo=UTC))):
            run_id = await run("order-confirmation", "done", 1, cust[n], None)
            await message(run_id, 0, "order-confirmation", "sent", sent_at, cust[n], None)

        async def touch(n: int, kind: str, machine: bool = False) -> None:
            ev = await event(f"message.{'opened' if kind == 'open' else 'clicked'}", {}, DAY_B)
            await conn.execute(insert(engagements).values(
                store_id=sid, outbox_id=follow[n - 1], customer_id=None, kind=kind, machine_open=machine,
                flow_id="delivery-follow-up", step=FOLLOW_SEND, template="delivery-follow-up", event_id=ev, at=DAY_B))

        for n in (1, 1, 2, 3, 4, 5):
            await touch(n, "open")
        await touch(6, "open", machine=True)
        for n in (1, 1, 2, 3):
            await touch(n, "click")
        for n, order, revenue in ((1, "o1b", 5000), (2, "o2b", 3000)):
            await conn.execute(insert(attributions).values(
                store_id=sid, order_id=order_ids[order], outbox_id=follow[n - 1], flow_id="delivery-follow-up",
                step=FOLLOW_SEND, template="delivery-follow-up", revenue=Decimal(revenue), currency="JPY", kind="click",
                touched_at=DAY_B, created_at=DAY_B))
        for n, kind in ((10, "message.bounced"), (9, "message.complained"), (8, "message.unsubscribed")):
            await event(kind, {"message": {"outbox_id": follow[n - 1]}}, DAY_B)
    return {"customers": cust, "orders": order_ids, "follow": follow}


async def build_year(runtime: Runtime, store: StoreRow, customers_per_month: int = 12) -> None:
    """A deterministic year of orders before the fixed history (January – October 2026), so retention has
    months to compare and cohorts to fill: customer k of month m orders again in month m + j when
    (k + j) % (j + 2) == 0."""
    now = runtime.clock.now()
    people = [(month, k) for month in range(1, 11) for k in range(customers_per_month)]
    async with runtime.engine.begin() as conn:
        await conn.execute(insert(customers), [
            {"store_id": store.id, "external_id": f"y{month}-{k}", "email": f"y{month}-{k}@example.com",
             "first_name": "年", "last_name": f"客{k}", "locale": "ja", "accepts_marketing": False,
             "created_at": now, "updated_at": now} for month, k in people])
        ids = {r.external_id: r.id for r in await conn.execute(
            select(customers.c.external_id, customers.c.id).where(customers.c.store_id == store.id))}
        rows = []
        for month, k in people:
            months = [month] + [month + j for j in range(1, 11 - month) if (k + j) % (j + 2) == 0]
            rows += [{"store_id": store.id, "external_id": f"y{month}-{k}-{n}", "customer_id": ids[f"y{month}-{k}"],
                      "number": f"Y{month}{k}{n}", "currency": "JPY", "total": Decimal(2000 + 500 * (k % 5)),
                      "status": "placed", "placed_at": datetime(2026, m, 1 + k % 27, 3, 0, tzinfo=UTC),
                      "updated_at": now} for n, m in enumerate(months)]
        await conn.execute(insert(orders), rows)

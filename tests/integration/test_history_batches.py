"""The set-based path for history batches (intake/history_batches.py) projects exactly what the live
path projects for the same events: customers, orders, lines, catalog, customer statistics, consents
and the stored events, on both databases.  The second batch updates what the first one wrote (a
later export of the same shop), so PostgreSQL's path for rows that already exist is covered too."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import consents, customer_stats, customers, events, order_lines, orders, products
from afterorder.domain import Event
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import JP_STORE, add_store, order_event, running

SKIPPED = {"id", "store_id"}


def _event(data: dict[str, Any]) -> Event:
    return Event.model_validate(data)


def batches() -> list[list[dict[str, Any]]]:
    """Two batches: several orders of the same customers, their whole lives, a product, a repeat."""
    first: list[dict[str, Any]] = []
    for n in range(6):
        order_id = f"o{n}"
        at = T0 - timedelta(days=40 - n)
        placed = order_event("order.placed", order_id, at, email=f"c{n % 2}@example.com")
        placed["customer"] = {"id": f"cust-{n % 2}", "email": f"C{n % 2}@Example.com",
                              "phone": f"090-1234-{n:04d}" if n > 1 else None, "accepts_marketing": n % 3 == 0 or None,
                              "tags": ["vip"] if n == 4 else None}
        placed["order"]["lines"].append({"sku": f"SKU-{n}", "title": "抹茶", "quantity": n + 1, "price": 800,
                                         "category": "tea"})
        first.append(placed)
        first.append(order_event("order.paid", order_id, at + timedelta(minutes=1), customer=None))
        if n % 3 == 1:
            first.append(order_event("order.shipped", order_id, at + timedelta(days=1), customer=None))
        if n == 5:
            first.append(order_event("order.cancelled", order_id, at + timedelta(hours=2), customer=None))
    first.append({"id": "product-p1", "type": "product.updated", "occurred_at": T0.isoformat(),
                  "product": {"id": "p1", "title": "京焼 急須", "category": "teaware", "url": "https://x.example/p1"}})
    first.append(first[0])  # the same id twice in one batch: stored once
    second = [
        order_event("order.refunded", "o2", T0 - timedelta(days=30), customer=None,
                    refund={"amount": 15000, "currency": "JPY"}),
        order_event("order.shipped", "o3", T0 - timedelta(days=30)),  # lines again: they are replaced
        {**order_event("order.placed", "o9", T0 - timedelta(days=20)),
         "customer": {"id": "cust-0", "first_name": "花子", "accepts_marketing": False}},
        first[3],  # stored by the first batch already
    ]
    return [first, second]


async def snapshot(runtime: Runtime, store_id: int) -> dict[str, list[dict[str, Any]]]:
    async with runtime.engine.connect() as conn:
        people = {r.id: r.external_id for r in await conn.execute(
            select(customers.c.id, customers.c.external_id).where(customers.c.store_id == store_id))}
        bought = {r.id: r.external_id for r in await conn.execute(
            select(orders.c.id, orders.c.external_id).where(orders.c.store_id == store_id))}
        found: dict[str, list[dict[str, Any]]] = {}
        tables: list[Table] = [customers, orders, order_lines, products, customer_stats, consents, events]
        for table in tables:
            rows = []
            for row in (await conn.execute(select(table).where(table.c.store_id == store_id))).mappings():
                kept = {k: v for k, v in row.items() if k not in SKIPPED}
                if "customer_id" in kept:
                    kept["customer_id"] = people.get(kept["customer_id"])
                if "order_id" in kept:
                    kept["order_id"] = bought.get(kept["order_id"])
                if table is events and isinstance(kept["payload"], str):
                    kept["payload"] = json.loads(kept["payload"])
                rows.append(kept)
            found[table.name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return found


async def test_history_batches_project_what_live_events_project(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        live, _ = await add_store(runtime)
        history, _ = await add_store(runtime, {**JP_STORE, "slug": "kumo-history"})
        answers: dict[bool, list[list[str]]] = {False: [], True: []}
        for batch in batches():
            events_ = [_event(e) for e in batch]
            raw = [{"row": i, "note": "元の行"} for i in range(len(events_))]
            for store, historical in ((live, False), (history, True)):
                accepted = await runtime.intake.ingest(store, events_, source="import", raw=raw,
                                                       historical=historical)
                answers[historical].append([a.status for a in accepted])
        assert answers[True] == answers[False]
        assert answers[True][0].count("duplicate") == 1 and answers[True][1][-1] == "duplicate"
        expected, got = await snapshot(runtime, live.id), await snapshot(runtime, history.id)
    assert got["orders"] and got["order_lines"] and got["customer_stats"] and got["consents"]
    for table, rows in expected.items():
        assert got[table] == rows, table

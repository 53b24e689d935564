"""``execute_many`` stores exactly what ``conn.execute(statement, rows)`` stores, on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.events import EVENT_COLUMNS
from afterorder.db.schema import events, orders
from afterorder.db.statements import execute_many, insert_ignore, upsert_order
from tests.conftest import T0
from tests.factories import add_store, running


def event_rows(store_id: int, tag: str) -> list[dict[str, Any]]:
    return [{"store_id": store_id, "source": "import", "source_id": f"{tag}-{i}", "type": "order.placed",
             "occurred_at": T0 + timedelta(minutes=i), "received_at": T0, "customer_id": None, "order_id": i,
             "payload": {"id": f"e-{i}", "order": {"total": "15000.50", "lines": [{"title": "急須"}]}},
             "raw": None if i % 2 else {"row": i}} for i in range(3)]


async def test_bulk_rows_read_back_as_rows_written_the_usual_way(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await conn.execute(insert_ignore(events, EVENT_COLUMNS), event_rows(store.id, "usual"))
            await execute_many(conn, insert_ignore(events, EVENT_COLUMNS), event_rows(store.id, "bulk"))
            order = {"store_id": store.id, "external_id": "1", "number": "#1", "currency": "JPY", "status": "paid",
                     "placed_at": T0, "updated_at": T0, "customer_id": None, "subtotal": Decimal("15000.50"),
                     "shipping": None, "tax": None, "discount": None, "total": Decimal("15000.50"),
                     "shipping_address": {"city": "京都市"}, "billing_address": None, "shipment": None,
                     "paid_at": T0, "shipped_at": None, "out_for_delivery_at": None, "delivered_at": None,
                     "cancelled_at": None, "refunded_at": None, "number_given": True, "currency_given": True,
                     "is_placed": True, "rank": 1}
            await execute_many(conn, upsert_order(), [order, {**order, "status": "placed", "rank": 0,
                                                              "number": "#1b", "total": None}])
        async with runtime.engine.connect() as conn:
            rows = (await conn.execute(select(events).order_by(events.c.id))).mappings().all()
            stored = (await conn.execute(select(orders))).mappings().one()
    usual, bulk = rows[:3], rows[3:]
    columns = [c for c in EVENT_COLUMNS if c != "source_id"]
    assert [[r[c] for c in columns] for r in bulk] == [[r[c] for c in columns] for r in usual]
    assert bulk[1]["raw"] is None and bulk[0]["raw"] == {"row": 0}
    assert bulk[2]["occurred_at"] == T0 + timedelta(minutes=2)
    # the second row merged into the first: status kept (placed < paid), number replaced, total kept
    assert (stored["status"], stored["number"], stored["total"]) == ("paid", "#1b", Decimal("15000.50"))
    assert stored["shipping_address"] == {"city": "京都市"} and stored["paid_at"] == T0

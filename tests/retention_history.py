"""A small, hand-built order history of the Tokyo store, for the retention and product-cycle tests.

Times are written in Tokyo time (JST = UTC+9). The report period in the tests is 2026-04-01 – 2026-06-30.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from afterorder.domain import Event
from afterorder.runtime import Runtime

JST = timezone(timedelta(hours=9))
FLOWS = ("order-confirmation", "shipping-confirmation", "delivery-follow-up")


def jst(text: str) -> datetime:
    """'2026-04-01 00:30' in Tokyo."""
    return datetime.fromisoformat(text).replace(tzinfo=JST)


def placed(order_id: str, customer: str, at: str, total: int | None, *, currency: str = "JPY",
           lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    order: dict[str, Any] = {"id": order_id, "currency": currency,
                             "lines": lines or [{"product_id": "assorted", "title": "詰め合わせ", "price": total or 0}]}
    if total is not None:
        order["total"] = total
    return {"id": f"placed:{order_id}", "type": "order.placed", "occurred_at": jst(at).isoformat(),
            "customer": {"id": customer, "email": f"{customer}@example.jp"}, "order": order}


def cancelled(order_id: str, customer: str, at: str) -> dict[str, Any]:
    return {"id": f"cancelled:{order_id}", "type": "order.cancelled", "occurred_at": jst(at).isoformat(),
            "customer": {"id": customer}, "order": {"id": order_id}}


# Per customer: what they did, and what it makes them for the period 2026-04-01 – 2026-06-30 with 365 days.
# B window: ordered on a day in [2025-04-01, 2026-03-31]; E window: [2025-07-01, 2026-06-30].
RETENTION_HISTORY = [
    # c01: 2025-05-10, 2026-05-05, 2026-06-10           → B, E; 3 orders to date, 2 in the period
    placed("o01a", "c01", "2025-05-10 12:00", 1500),
    placed("o01b", "c01", "2026-05-05 12:00", 3000),
    placed("o01c", "c01", "2026-06-10 12:00", 5000),
    # c02: 2025-06-15 only                                → B; lapsed before the end (< 2025-07-01)
    placed("o02a", "c02", "2025-06-15 12:00", 2000),
    # c03: 2024-01-10, then 2026-05-20                    → not B (lapsed beyond 365 days), E, not new
    placed("o03a", "c03", "2024-01-10 12:00", 3000),
    placed("o03b", "c03", "2026-05-20 12:00", 4000),
    # c04: first 2026-04-10, again 2026-06-01             → new, E
    placed("o04a", "c04", "2026-04-10 12:00", 2000),
    placed("o04b", "c04", "2026-06-01 12:00", 2500),
    # c05: 2026-03-01 cancelled, then 2026-05-12          → not B; the first order that counts is in the
    #                                                        period: new, E
    placed("o05a", "c05", "2026-03-01 12:00", 8000),
    cancelled("o05a", "c05", "2026-03-02 09:00"),
    placed("o05b", "c05", "2026-05-12 12:00", 6000),
    # c06: only 2026-04-01 00:30 JST (= 03-31 15:30 UTC)  → new, E (a UTC calendar would put it in March: B)
    placed("o06a", "c06", "2026-04-01 00:30", 1000),
    # c07: only 2026-07-01 01:00 JST (= 06-30 16:00 UTC)  → after the period: nothing
    placed("o07a", "c07", "2026-07-01 01:00", 9000),
    # c08: only 2026-06-30 23:30 JST                      → the last day counts whole: new, E
    placed("o08a", "c08", "2026-06-30 23:30", 7000),
    # c09: 2025-08-01, 2025-12-24                         → B, E without ordering in the period
    placed("o09a", "c09", "2025-08-01 12:00", 1200),
    placed("o09b", "c09", "2025-12-24 12:00", 1800),
    # c10: 2026-03-31 23:00 JST (= 14:00 UTC)             → B (the day before the period), E
    placed("o10a", "c10", "2026-03-31 23:00", 2200),
    # c11: only 2025-03-31 23:59 JST                      → one minute before the B window: nothing
    placed("o11a", "c11", "2025-03-31 23:59", 1100),
    # c12: only 2025-04-01 00:30 JST (= 03-31 15:30 UTC)  → the B window's first day: B; not E
    placed("o12a", "c12", "2025-04-01 00:30", 1300),
]


async def store_history(runtime: Runtime, store: Any, history: list[dict[str, Any]]) -> None:
    """Send the events through the real intake, with the store's order flows off (faster, nothing to mail)."""
    async with runtime.engine.begin() as conn:
        for flow in FLOWS:
            await runtime.catalog.set_enabled(conn, store, flow, False, runtime.clock.now())
    await runtime.intake.ingest(store, [Event.model_validate(e) for e in history], source="import")


SENCHA = {"product_id": "sencha", "title": "煎茶", "price": 1500}
MATCHA = {"sku": "MATCHA-30G", "title": "抹茶 30g", "price": 2500}  # a line without a product id: keyed by SKU
HOJICHA = {"product_id": "hojicha", "title": "ほうじ茶", "price": 1200}
KYUSU = {"product_id": "kyusu", "title": "京焼 急須", "price": 15000}

# Purchase days per customer and product (Tokyo days), and the intervals they give:
#   pa  sencha 01-01, 01-31, 03-02                → 30, 30      matcha 01-01, 01-15 → 14     kyusu once
#   pb  sencha 01-10, 02-09 (twice that day), 03-21 → 30, 40                                  kyusu once
#   pc  sencha 02-01, [02-11 cancelled], 02-21    → 20          hojicha 02-01 01:00, 02-21 → 20 (21 UTC days)
# sencha: 5 intervals [30, 30, 30, 40, 20] → median 30; MATCHA-30G: 1; hojicha: 1; kyusu: 0.
PRODUCT_HISTORY = [
    placed("pa1", "pa", "2026-01-01 10:00", 4000, lines=[SENCHA, MATCHA]),
    placed("pa2", "pa", "2026-01-15 10:00", 2500, lines=[MATCHA]),
    placed("pa3", "pa", "2026-01-31 10:00", 1500, lines=[SENCHA]),
    placed("pa4", "pa", "2026-03-02 10:00", 16500, lines=[SENCHA, KYUSU]),
    placed("pb1", "pb", "2026-01-10 10:00", 1500, lines=[SENCHA]),
    placed("pb2", "pb", "2026-02-09 09:00", 1500, lines=[SENCHA]),
    placed("pb3", "pb", "2026-02-09 18:00", 1500, lines=[SENCHA]),
    placed("pb4", "pb", "2026-03-21 10:00", 16500, lines=[SENCHA, KYUSU]),
    placed("pc1", "pc", "2026-02-01 01:00", 2700, lines=[SENCHA, HOJICHA]),
    placed("pc2", "pc", "2026-02-11 10:00", 1500, lines=[SENCHA]),
    cancelled("pc2", "pc", "2026-02-11 11:00"),
    placed("pc3", "pc", "2026-02-21 12:00", 2700, lines=[SENCHA, HOJICHA]),
]

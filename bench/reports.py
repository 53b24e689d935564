"""Time the retention report and the product cycles on a generated order history, SQLite and PostgreSQL.

    .venv/bin/python bench/reports.py [--customers 50000] [--orders 500000] [--backends sqlite,postgresql]

The history is written straight into customers / orders / order_lines (this measures the reads, not the
intake): customers first order on a random day of three years, reorder after gaps drawn around a 45-day
cycle, one to three lines from 200 products, 2 % of the orders cancelled. Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import Databases, postgres_problem
from sqlalchemy import insert

from afterorder.analytics.product_cycle import product_cycles
from afterorder.analytics.retention import retention_report
from afterorder.db.database import open_engine
from afterorder.db.migrate import upgrade
from afterorder.db.schema import customers, order_lines, orders
from afterorder.db.stores import create_store

START = datetime(2023, 7, 1, tzinfo=UTC)
SPAN_DAYS = 3 * 365
BATCH = 5000


def history(n_customers: int, n_orders: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Orders (with their customer index) and lines, spread so the customers average n_orders / n_customers."""
    rng = random.Random(seed)
    mean_orders = n_orders / n_customers
    order_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    while len(order_rows) < n_orders:
        for customer in range(n_customers):
            at = START + timedelta(days=rng.uniform(0, SPAN_DAYS))
            for _ in range(max(1, round(rng.expovariate(1 / mean_orders)))):
                if at > START + timedelta(days=SPAN_DAYS) or len(order_rows) >= n_orders:
                    break
                number = len(order_rows) + 1
                lines = rng.randint(1, 3)
                products = [f"p{int(rng.paretovariate(1.2)) % 200:03d}" for _ in range(lines)]
                order_rows.append({"customer": customer, "external_id": f"o{number}", "placed_at": at,
                                   "total": Decimal(500 * lines + rng.randint(0, 4000)),
                                   "cancelled": rng.random() < 0.02})
                line_rows.extend({"order": number, "position": i, "product_id": p} for i, p in enumerate(products))
                at += timedelta(days=rng.gammavariate(2.0, 22.5), hours=rng.uniform(0, 12))
    return order_rows, line_rows


async def load(url: str, order_rows: list[dict[str, Any]], line_rows: list[dict[str, Any]],
               n_customers: int) -> tuple[Any, Any, float]:
    engine = open_engine(url)
    await upgrade(engine)
    began = time.perf_counter()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        store, _ = await create_store(conn, now, slug="bench", name="Bench", email_from="shop@bench.example",
                                      country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
        for start in range(0, n_customers, BATCH):
            await conn.execute(insert(customers), [
                {"id": i + 1, "store_id": store.id, "external_id": f"c{i}", "accepts_marketing": False,
                 "created_at": now, "updated_at": now} for i in range(start, min(start + BATCH, n_customers))])
        for start in range(0, len(order_rows), BATCH):
            await conn.execute(insert(orders), [
                {"id": start + i + 1, "store_id": store.id, "external_id": o["external_id"],
                 "customer_id": o["customer"] + 1, "number": o["external_id"], "currency": "JPY",
                 "total": o["total"], "status": "cancelled" if o["cancelled"] else "delivered",
                 "placed_at": o["placed_at"], "cancelled_at": o["placed_at"] if o["cancelled"] else None,
                 "updated_at": now} for i, o in enumerate(order_rows[start:start + BATCH])])
        for start in range(0, len(line_rows), BATCH):
            await conn.execute(insert(order_lines), [
                {"store_id": store.id, "order_id": line["order"], "position": line["position"],
                 "product_id": line["product_id"], "title": line["product_id"], "quantity": 1, "price": 500}
                for line in line_rows[start:start + BATCH]])
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
    return engine, store, time.perf_counter() - began


async def timed(label: str, work: Any) -> Any:
    began = time.perf_counter()
    result = await work
    print(f"    {label:<52} {time.perf_counter() - began:8.2f} s", flush=True)
    return result


async def bench(backend: str, n_customers: int, n_orders: int) -> None:
    order_rows, line_rows = history(n_customers, n_orders)
    databases = Databases(backend)
    try:
        engine, store, loading = await load(await databases.fresh("reports"), order_rows, line_rows, n_customers)
        print(f"  {backend}: {n_customers:,} customers, {len(order_rows):,} orders, {len(line_rows):,} lines "
              f"(loaded in {loading:.1f} s)", flush=True)
        try:
            async with engine.connect() as conn:
                report = await timed("retention, one quarter (CRR, rates, money, cohorts)",
                                     retention_report(conn, store, date(2026, 4, 1), date(2026, 6, 30)))
                await timed("retention, one year + CRR series by month",
                            retention_report(conn, store, date(2025, 7, 1), date(2026, 6, 30), granularity="month"))
                cycles = await timed("product cycles (200 products)", product_cycles(conn, store))
            print(f"    (Q2 2026: B {report.crr.at_start:,}, E {report.crr.at_end:,}, N {report.crr.new:,}, "
                  f"CRR {report.crr.rate:.1f} %; top product cycle {cycles[0].days} days "
                  f"from {cycles[0].sample:,} intervals)", flush=True)
        finally:
            await engine.dispose()
    finally:
        await databases.cleanup()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=500_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    for backend in args.backends.split(","):
        if backend == "postgresql" and (problem := await postgres_problem()):
            print(f"  postgresql skipped: {problem}")
            continue
        await bench(backend, args.customers, args.orders)


if __name__ == "__main__":
    asyncio.run(main())

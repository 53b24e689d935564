"""Segments at scale: 1M customers and 10M orders, on SQLite and on PostgreSQL.

Prints, for each database:
- statistics upkeep per event: the time ``refresh_stats`` takes inside the event's transaction for
  a customer with their whole history (mean and p99 over a sample of customers);
- the time to count a compound segment: repeat buyers in JP, spent ≥ ¥50,000, ordered in the last
  90 days, never bought category "tools" (target ≤ 2 s), and the time to ask the same question of
  one customer.

The history is loaded in bulk (the drivers' fastest paths), then statistics are built set-wise from
it; the per-event path is what the first figure measures.  Never asserts.

    python bench/segments.py [--customers 1000000] [--orders 10] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import Databases, postgres_problem
from sqlalchemy import func, select

from afterorder.db.customer_stats import refresh_stats
from afterorder.db.database import open_engine
from afterorder.db.migrate import upgrade
from afterorder.db.schema import customers
from afterorder.db.stores import create_store
from afterorder.flows.conditions import parse_condition
from afterorder.segments.conditions import members_query
from afterorder.segments.membership import context

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
COMPOUND = {"all": [
    {"field": "customer.country", "value": "JP"},
    {"field": "stats.is_repeat", "value": True},
    {"field": "stats.total_spent", "op": "gte", "value": 50000},
    {"field": "stats.last_order_at", "op": "within_last", "value": "90d"},
    {"not": {"bought": {"category": "tools"}}},
]}
COUNTRIES = ["JP"] * 6 + ["US", "CN", "TW", "KR"]
CATEGORIES = ["tea", "teaware", "sweets", "gift", "tools", "books"]
CHUNK = 50_000


def say(message: str) -> None:
    print(message, flush=True)


def history(customers_n: int, orders_per: int, seed: int = 7) -> Iterator[tuple[int, int, datetime, int, str]]:
    """(order id, customer id, placed at, total, category): a long tail of buyers over 3 years."""
    rng = random.Random(seed)
    order_id = 0
    for customer in range(1, customers_n + 1):
        count = max(1, min(60, int(rng.expovariate(1 / orders_per))))
        for _ in range(count):
            order_id += 1
            placed = NOW - timedelta(days=rng.random() * 1095)
            yield order_id, customer, placed, rng.choice((1200, 3400, 5600, 9800, 15000, 32000)), \
                rng.choice(CATEGORIES)


async def load_sqlite(url: str, store_id: int, customers_n: int, orders_per: int) -> int:
    import sqlite3

    path = url.removeprefix("sqlite:///")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rng = random.Random(3)
    created = "2023-01-01 00:00:00.000000"
    db.executemany(
        "INSERT INTO customers (id, store_id, external_id, email, country, accepts_marketing, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        ((i, store_id, f"c{i}", f"c{i}@example.jp", rng.choice(COUNTRIES), created, created)
         for i in range(1, customers_n + 1)))
    orders = lines = 0
    batch_o: list[tuple[Any, ...]] = []
    batch_l: list[tuple[Any, ...]] = []

    def flush() -> None:
        db.executemany("INSERT INTO orders (id, store_id, external_id, customer_id, number, currency, total, status,"
                       " placed_at, updated_at) VALUES (?, ?, ?, ?, ?, 'JPY', ?, 'delivered', ?, ?)", batch_o)
        db.executemany("INSERT INTO order_lines (store_id, order_id, position, title, quantity, price, category)"
                       " VALUES (?, ?, 0, ?, 1, ?, ?)", batch_l)
        batch_o.clear()
        batch_l.clear()

    for order_id, customer, placed, total, category in history(customers_n, orders_per):
        at = placed.strftime("%Y-%m-%d %H:%M:%S.%f")
        batch_o.append((order_id, store_id, f"o{order_id}", customer, f"#{order_id}", total, at, at))
        batch_l.append((store_id, order_id, category, total, category))
        orders += 1
        lines += 1
        if len(batch_o) >= CHUNK:
            flush()
    flush()
    db.commit()
    db.close()
    return orders


async def load_postgres(url: str, store_id: int, customers_n: int, orders_per: int) -> int:
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, database=u.database)
    rng = random.Random(3)
    created = datetime(2023, 1, 1, tzinfo=UTC)
    await conn.copy_records_to_table("customers", columns=[
        "id", "store_id", "external_id", "email", "country", "accepts_marketing", "created_at", "updated_at"],
        records=[(i, store_id, f"c{i}", f"c{i}@example.jp", rng.choice(COUNTRIES), False, created, created)
                 for i in range(1, customers_n + 1)])
    orders = 0
    batch_o: list[tuple[Any, ...]] = []
    batch_l: list[tuple[Any, ...]] = []

    async def flush() -> None:
        await conn.copy_records_to_table("orders", columns=[
            "id", "store_id", "external_id", "customer_id", "number", "currency", "total", "status", "placed_at",
            "updated_at"], records=batch_o)
        await conn.copy_records_to_table("order_lines", columns=[
            "store_id", "order_id", "position", "title", "quantity", "price", "category"], records=batch_l)
        batch_o.clear()
        batch_l.clear()

    for order_id, customer, placed, total, category in history(customers_n, orders_per):
        batch_o.append((order_id, store_id, f"o{order_id}", customer, f"#{order_id}", "JPY", Decimal(total),
                        "delivered", placed, placed))
        batch_l.append((store_id, order_id, 0, category, 1, Decimal(total), category))
        orders += 1
        if len(batch_o) >= CHUNK:
            await flush()
    await flush()
    for table in ("customers", "orders", "order_lines"):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute(f"ANALYZE {table}")
    await conn.close()
    return orders


STATS_SQL = """
WITH cats AS (
    SELECT o.customer_id, l.category, max({day}) AS d
    FROM orders o JOIN order_lines l ON l.store_id = o.store_id AND l.order_id = o.id
    WHERE o.store_id = :store GROUP BY o.customer_id, l.category),
bought AS (SELECT customer_id, {object_agg}(category, d) AS categories FROM cats GROUP BY customer_id),
totals AS (
    SELECT customer_id, count(*) AS n, sum(total) AS spent, min(placed_at) AS first_at, max(placed_at) AS last_at
    FROM orders WHERE store_id = :store GROUP BY customer_id)
INSERT INTO customer_stats (store_id, customer_id, order_count, total_spent, first_order_at, last_order_at,
                            refund_count, cancel_count, international, products, categories, updated_at)
SELECT :store, t.customer_id, t.n, t.spent, t.first_at, t.last_at, 0, 0, {false}, '{{}}', b.categories, t.last_at
FROM totals t JOIN bought b ON b.customer_id = t.customer_id
"""
STATS_DIALECT = {
    "sqlite": {"day": "substr(o.placed_at, 1, 10)", "object_agg": "json_group_object", "false": "0"},
    "postgresql": {"day": "to_char(o.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "object_agg": "json_object_agg",
                   "false": "false"},
}


async def run_backend(backend: str, customers_n: int, orders_per: int) -> dict[str, Any]:
    from sqlalchemy import text

    databases = Databases(backend)
    try:
        url = await databases.fresh("segments")
        engine = open_engine(url)
        await upgrade(engine)
        async with engine.begin() as conn:
            store, _ = await create_store(conn, NOW, slug="bench", name="Bench", email_from="shop@bench.example",
                                          country="JP", timezone="Asia/Tokyo", currency="JPY")
        await engine.dispose()
        started = time.perf_counter()
        loader = load_sqlite if backend == "sqlite" else load_postgres
        orders = await loader(url, store.id, customers_n, orders_per)
        engine = open_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(STATS_SQL.format(**STATS_DIALECT[backend])), {"store": store.id})
            if backend == "postgresql":
                await conn.execute(text("ANALYZE customer_stats"))
            else:
                await conn.execute(text("ANALYZE"))
        loaded = time.perf_counter() - started
        say(f"  {backend}: {customers_n:,} customers, {orders:,} orders loaded in {loaded:.0f} s")

        rng = random.Random(11)
        upkeep = []
        for _ in range(300):
            customer = rng.randint(1, customers_n)
            async with engine.begin() as conn:
                t = time.perf_counter()
                await refresh_stats(conn, store.id, store.country, [customer], NOW)
                upkeep.append((time.perf_counter() - t) * 1000)

        condition = parse_condition(COMPOUND)
        counts = []
        found = 0
        async with engine.connect() as conn:
            ctx = await context(conn, store, NOW)
            query = select(func.count()).select_from(members_query(condition, ctx).subquery())
            for _ in range(3):
                t = time.perf_counter()
                found = int((await conn.execute(query)).scalar_one())
                counts.append(time.perf_counter() - t)
            one = []
            for _ in range(50):
                cid = rng.randint(1, customers_n)
                t = time.perf_counter()
                await conn.execute(members_query(condition, ctx).where(customers.c.id == cid))
                one.append((time.perf_counter() - t) * 1000)
        await engine.dispose()
        return {"backend": backend, "customers": customers_n, "orders": orders, "load_s": loaded,
                "upkeep_mean_ms": statistics.mean(upkeep), "upkeep_p99_ms": sorted(upkeep)[int(len(upkeep) * .99)],
                "count_s": min(counts), "members": found, "one_ms": statistics.median(one)}
    finally:
        await databases.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10, help="mean orders per customer")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    say(f"segments bench: {args.customers:,} customers × ~{args.orders} orders")
    rows = []
    for backend in args.backends.split(","):
        if backend == "postgresql" and (problem := await postgres_problem()):
            say(f"  postgresql skipped: {problem}")
            continue
        rows.append(await run_backend(backend, args.customers, args.orders))
    say("")
    say(f"{'database':<11}{'orders':>12}{'upkeep/event mean':>19}{'p99':>9}{'count segment':>15}"
        f"{'members':>10}{'one customer':>14}   target: count ≤ 2 s")
    for r in rows:
        say(f"{r['backend']:<11}{r['orders']:>12,}{r['upkeep_mean_ms']:>16.2f} ms{r['upkeep_p99_ms']:>6.1f} ms"
            f"{r['count_s']:>13.2f} s{r['members']:>10,}{r['one_ms']:>11.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())

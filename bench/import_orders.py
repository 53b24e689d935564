"""``python bench/import_orders.py``: how long ``afterorder import orders`` takes for a big Shopify
orders export, on SQLite and on PostgreSQL side by side.

Generates a CSV in Shopify's export shape (default 100,000 orders, ~1.5 line items each, ~30,000
customers; paid, most fulfilled, some cancelled and refunded), then runs the real command on a fresh
database per backend and prints wall time (process start to exit) and rows/s.  Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import Databases, postgres_problem

HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
    "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
    "Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,"
    "Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,"
    "Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,"
    "Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,"
    "Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,"
    "Payment ID,Payment Terms Name,Next Payment Due At,Payment References"
).split(",")
PRODUCTS = [(f"Product {i}", f"SKU-{i:04d}", 500 + 100 * (i % 40)) for i in range(400)]
AFTERORDER = [sys.executable, "-m", "afterorder"]


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


def generate(path: Path, orders: int, customers: int, seed: int = 7) -> tuple[int, int]:
    """Write the export; returns (rows, line items)."""
    rnd = random.Random(seed)
    start = datetime(2019, 1, 1, tzinfo=UTC)
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        index = {h: i for i, h in enumerate(HEADER)}
        for n in range(orders):
            created = start + timedelta(minutes=n * 30 + rnd.randint(0, 29))
            who = rnd.randrange(customers)
            lines = [rnd.choice(PRODUCTS) for _ in range(1 if rnd.random() < 0.6 else rnd.randint(2, 3))]
            quantities = [rnd.randint(1, 3) for _ in lines]
            subtotal = sum(p * q for (_, _, p), q in zip(lines, quantities, strict=True))
            shipping = 800 if subtotal < 5000 else 0
            roll = rnd.random()
            cancelled = roll < 0.03
            refunded = 0.03 <= roll < 0.06
            paid = not cancelled or rnd.random() < 0.5
            fulfilled = paid and not cancelled and rnd.random() < 0.9
            for i, ((title, sku, price), quantity) in enumerate(zip(lines, quantities, strict=True)):
                row = [""] * len(HEADER)
                row[index["Name"]] = f"#{100000 + n}"
                row[index["Email"]] = f"customer{who}@example.jp"
                row[index["Created at"]] = stamp(created)
                row[index["Lineitem quantity"]] = str(quantity)
                row[index["Lineitem name"]] = title
                row[index["Lineitem price"]] = str(price)
                row[index["Lineitem sku"]] = sku
                row[index["Lineitem requires shipping"]] = "true"
                row[index["Lineitem taxable"]] = "true"
                row[index["Lineitem fulfillment status"]] = "fulfilled" if fulfilled else "pending"
                row[index["Vendor"]] = "雲茶舗"
                if i == 0:
                    row[index["Financial Status"]] = ("refunded" if refunded else "paid" if paid else "voided")
                    row[index["Paid at"]] = stamp(created + timedelta(seconds=30)) if paid else ""
                    row[index["Fulfillment Status"]] = "fulfilled" if fulfilled else "unfulfilled"
                    row[index["Fulfilled at"]] = stamp(created + timedelta(days=1, hours=3)) if fulfilled else ""
                    row[index["Accepts Marketing"]] = "yes" if who % 3 else "no"
                    row[index["Currency"]] = "JPY"
                    row[index["Subtotal"]] = str(subtotal)
                    row[index["Shipping"]] = str(shipping)
                    row[index["Taxes"]] = str(subtotal // 11)
                    row[index["Total"]] = str(subtotal + shipping)
                    row[index["Discount Amount"]] = "0"
                    row[index["Shipping Method"]] = "ヤマト運輸"
                    for side in ("Billing", "Shipping"):
                        row[index[f"{side} Name"]] = f"顧客 {who}"
                        row[index[f"{side} Address1"]] = f"四条通 {who % 100}-{who % 7}"
                        row[index[f"{side} City"]] = "京都市"
                        row[index[f"{side} Zip"]] = "'600-8005"
                        row[index[f"{side} Province"]] = "26"
                        row[index[f"{side} Country"]] = "JP"
                    row[index["Cancelled at"]] = stamp(created + timedelta(hours=5)) if cancelled else ""
                    row[index["Payment Method"]] = "Shopify Payments"
                    row[index["Refunded Amount"]] = str(subtotal + shipping) if refunded else "0"
                    row[index["Outstanding Balance"]] = "0"
                    row[index["Id"]] = str(5_550_000_000 + n)
                    row[index["Risk Level"]] = "Low"
                    row[index["Source"]] = "web"
                writer.writerow(row)
                rows += 1
    return rows, rows


def cli(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AFTERORDER_DATABASE_URL": database}
    return subprocess.run([*AFTERORDER, *args], capture_output=True, text=True, env=env, check=True)


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_import(url: str, csv_path: Path) -> tuple[dict[str, float], float, float]:
    """The command's summary, its wall seconds, and the CPU seconds of the afterorder process."""
    cpu, started = child_cpu(), time.perf_counter()
    summary = json.loads(cli(url, "import", "orders", str(csv_path), "--store", "bench", "--json").stdout)
    return summary, time.perf_counter() - started, child_cpu() - cpu


async def measure(backend: str, csv_path: Path) -> dict[str, float]:
    dbs = Databases(backend)
    try:
        url = await dbs.fresh("import")
        cli(url, "store", "add", "bench", "--name", "Bench", "--email-from", "shop@bench.example",
            "--timezone", "Asia/Tokyo", "--currency", "JPY", "--country", "JP", "--locale", "ja")
        load = os.getloadavg()[0]
        first, seconds, cpu = timed_import(url, csv_path)
        again, rerun, _ = timed_import(url, csv_path)
        return {"seconds": seconds, "cpu": cpu, "load": load, "orders": first["records"],
                "events": first["events_stored"], "rejected": first["rejected"], "rerun_seconds": rerun,
                "rerun_new": again["new"]}
    finally:
        await dbs.cleanup()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    if "postgresql" in backends and (problem := await postgres_problem()):
        print(f"PostgreSQL skipped: {problem}", flush=True)
        backends.remove("postgresql")
    with tempfile.TemporaryDirectory(prefix="afterorder-import-bench-") as tmp:
        path = Path(tmp) / "orders_export.csv"
        rows, _ = generate(path, args.orders, args.customers)
        size = path.stat().st_size / 1e6
        print(f"Shopify orders export: {args.orders:,} orders, {rows:,} rows (line items), ~{args.customers:,} "
              f"customers, {size:.0f} MB; cores: {os.cpu_count()}", flush=True)
        results = {}
        for backend in backends:
            print(f"importing into {backend} ...", flush=True)
            results[backend] = await measure(backend, path)
        print()
        print(f"{'':28}" + "".join(f"{b:>16}" for b in results))
        lines = [
            ("wall time, first import", lambda r: f"{r['seconds']:.1f} s"),
            ("CPU of the import process", lambda r: f"{r['cpu']:.1f} s"),
            ("load average before", lambda r: f"{r['load']:.1f}"),
            ("orders/s", lambda r: f"{r['orders'] / r['seconds']:,.0f}"),
            ("CSV rows/s", lambda r: f"{rows / r['seconds']:,.0f}"),
            ("events stored", lambda r: f"{r['events']:,.0f}"),
            ("events/s", lambda r: f"{r['events'] / r['seconds']:,.0f}"),
            ("rejected rows", lambda r: f"{r['rejected']:,.0f}"),
            ("re-run (nothing new)", lambda r: f"{r['rerun_seconds']:.1f} s, {r['rerun_new']:.0f} new"),
        ]
        for label, show in lines:
            print(f"{label:28}" + "".join(f"{show(r):>16}" for r in results.values()))


if __name__ == "__main__":
    asyncio.run(main())

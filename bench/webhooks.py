"""Webhook answer times: signed Shopify ``orders/create`` deliveries into a real ``afterorder serve``.

Shopify expects an answer within a few seconds and the issue asks for 100 ms: this prints the
response time percentiles (verify → normalize → store, flows run afterwards) one delivery at a
time and with 16 in flight, on SQLite and on PostgreSQL.  Never asserts.

    .venv/bin/python bench/webhooks.py [--backends sqlite,postgresql] [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import Databases, postgres_problem
from latency import ServeProcess, _cli, create_store

from afterorder.dev.smtp_server import start_dev_smtp

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "platforms"
SAMPLE = FIXTURES / "shopify" / "orders_create.sample.json"
SECRET = "shpss_bench"


def body_for(n: int) -> bytes:
    order = json.loads(SAMPLE.read_bytes())
    order.update(id=10_000_000 + n, name=f"#B{n}", email=f"bench{n}@example.com")
    order["customer"].update(id=20_000_000 + n, email=f"bench{n}@example.com")
    return json.dumps(order).replace("/", "\\/").encode()


def headers(body: bytes, n: int) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Webhook-Id": f"bench-{n}", "X-Shopify-Shop-Domain": "bench.myshopify.com"}


def ms(values: list[float], share: float) -> str:
    ordered = sorted(values)
    return f"{ordered[max(0, int(share * len(ordered)) - 1)] * 1000:7.1f}"


async def drive(url: str, start: int, count: int, in_flight: int) -> tuple[list[float], float, int]:
    bodies = [(n, body_for(n)) for n in range(start, start + count)]
    times: list[float] = []
    failures = 0
    gate = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=in_flight)) as client:
        async def one(n: int, body: bytes) -> None:
            nonlocal failures
            async with gate:
                began = time.perf_counter()
                response = await client.post(url, content=body, headers=headers(body, n))
                times.append(time.perf_counter() - began)
                failures += response.status_code != 200
        began = time.perf_counter()
        await asyncio.gather(*(one(n, body) for n, body in bodies))
        return times, count / (time.perf_counter() - began), failures


async def bench(backend: str, requests: int) -> None:
    databases = Databases(backend)
    smtp = await start_dev_smtp()
    try:
        database = await databases.fresh("webhooks")
        await create_store(database, "bench")
        server = await ServeProcess.start(database, smtp.url)
        try:
            await server.ready()
            await _cli("store", "connect", "bench", "shopify", "--secret", SECRET, "--database", database)
            url = f"{server.url}/webhooks/shopify/bench"
            await drive(url, 0, 20, 1)  # warm up
            for in_flight in (1, 16):
                times, rate, failures = await drive(url, in_flight * 100_000, requests, in_flight)
                print(f"{backend:<10} {in_flight:>9} {requests:>8} {ms(times, 0.5)} {ms(times, 0.95)} "
                      f"{ms(times, 0.99)} {max(times) * 1000:7.1f} {rate:8.0f} {failures:>5}", flush=True)
        finally:
            await server.stop()
    finally:
        await databases.cleanup()
        await smtp.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    print("backend    in flight requests  p50 ms  p95 ms  p99 ms  max ms   req/s  non-200")
    for backend in args.backends.split(","):
        if backend == "postgresql" and (problem := await postgres_problem()):
            print(f"postgresql skipped: {problem}")
            continue
        await bench(backend, args.requests)


if __name__ == "__main__":
    asyncio.run(main())

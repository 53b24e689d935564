"""Composing messages with the stores' link keys sealed: the scheduler's hot path, timed from outside.

Stores ``--orders`` order.placed events for one store (untimed), then times ``Scheduler.run_due``
until no run is due: each run renders its order confirmation in this process, with signed
unsubscribe, order-page and tracking links (the store's key opened by ``afterorder.keys.signers``
once, then kept).  Prints runs per second.  The same script runs against a checkout whose keys are
stored plain (``PYTHONPATH=<that checkout>/src``), so the two can be compared pair by pair::

    python bench/store_signers.py --orders 400
    PYTHONPATH=../main/src python bench/store_signers.py --orders 400
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from events import order_placed_event

from afterorder.clock import SystemClock
from afterorder.db.stores import create_store
from afterorder.keys.sealing import new_key
from afterorder.runtime import Runtime, RuntimeSettings

STORE = {"slug": "bench-signers", "name": "Bench", "email_from": "shop@bench.example", "locale": "ja",
         "country": "JP", "currency": "JPY", "timezone": "Asia/Tokyo"}


async def main(orders: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ao-signers-"))
    settings = RuntimeSettings(database_url=f"sqlite+aiosqlite:///{folder}/bench.db", secret_key=new_key(),
                               render_processes=0)
    runtime = Runtime(settings, SystemClock())
    await runtime.migrate()
    async with runtime.engine.begin() as conn:
        await create_store(conn, runtime.clock.now(), **STORE)  # as stored by the code under test at start:
    await runtime.migrate()  # sealed here where that code seals link keys, plain where it does not
    from afterorder.db.stores import get_store

    async with runtime.engine.connect() as conn:
        store = await get_store(conn, STORE["slug"])
    assert store is not None
    for start in range(0, orders, 100):
        await runtime.intake.ingest(store, [order_placed_event("s", i) for i in range(start, min(orders, start + 100))])
    began = time.perf_counter()
    advanced = 0
    while found := await runtime.scheduler.run_due():
        advanced += found
    took = time.perf_counter() - began
    print(f"{advanced} runs advanced in {took:.2f} s: {advanced / took:,.0f} runs/s "
          f"(link key stored {'sealed' if store.signing_key.startswith('sealed:') else 'plain'})")
    await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=400)
    asyncio.run(main(parser.parse_args().orders))

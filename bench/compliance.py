"""What consent, caps, quiet hours and DKIM cost at send time.  Prints figures; never asserts.

    .venv/bin/python bench/compliance.py [--messages 5000] [--database sqlite:///...]

1. ``Delivery.claim`` of queued transactional messages (the gate only reads the stores' settings)
   against the same number of marketing messages to consented customers, with a cap and quiet
   hours configured (the gate reads consent, purchases, time zones and recent sends);
2. DKIM signing of one ~13 KB message with a 2048-bit key (dkimpy).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dkim as dkimpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from afterorder.channels import RetryPolicy
from afterorder.clock import FrozenClock
from afterorder.compliance import dkim
from afterorder.compliance.settings import update_settings
from afterorder.db.database import open_engine
from afterorder.db.migrate import upgrade
from afterorder.db.schema import consents, customers
from afterorder.db.stores import create_store
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.delivery.outbox import OutboxMessage, write_messages

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo: outside the quiet hours set below


class _NoChannel:
    async def send(self, email: object) -> object:
        raise AssertionError("the bench only claims")

    async def close(self) -> None:
        return None


async def _fill(engine: object, store_id: int, category: str, n: int, offset: int) -> None:
    messages: list[OutboxMessage] = []
    people, consent = [], []
    for i in range(offset, offset + n):
        people.append({"id": i + 1, "store_id": store_id, "external_id": f"c{i}", "email": f"c{i}@example.com",
                       "accepts_marketing": True, "created_at": NOW, "updated_at": NOW, "timezone": "Asia/Tokyo"})
        consent.append({"store_id": store_id, "customer_id": i + 1, "channel": "email", "purpose": "marketing",
                        "status": "granted", "updated_at": NOW})
        key = f"bench:{category}:{i}"
        messages.append(OutboxMessage(
            store_id=store_id, idempotency_key=key, message_id=f"<{key}@kumo.example>", category=category,
            template="order-confirmation", locale="ja", customer_id=i + 1, envelope_from="shop@kumo.example",
            recipient=f"c{i}@example.com", subject="s", data="x" * 13000, next_attempt_at=NOW, created_at=NOW))
    async with engine.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(customers.insert(), people)
        await conn.execute(consents.insert(), consent)
        await write_messages(conn, messages)


async def _claim_all(delivery: Delivery) -> list[float]:
    times = []
    while True:
        started = time.perf_counter()
        claimed = await delivery.claim()
        if not claimed:
            return times
        times.append((time.perf_counter() - started) * 1000)


async def main(url: str, messages: int) -> None:
    engine = open_engine(url)
    await upgrade(engine)
    async with engine.begin() as conn:
        store, _ = await create_store(conn, NOW, slug="kumo", name="kumo", email_from="shop@kumo.example",
                                      country="JP", timezone="Asia/Tokyo")
        await update_settings(conn, store.id, NOW, quiet_hours="21:00-08:00", caps=["email:3/168"])
    delivery = Delivery(engine, _NoChannel(), FrozenClock(NOW), RetryPolicy(),  # type: ignore[arg-type]
                        DeliverySettings(worker_id="bench", batch=500))
    print(f"{url.split(':')[0]}: {messages} messages per category, claims of 500")
    for n, category in enumerate(("transactional", "marketing")):
        await _fill(engine, store.id, category, messages, n * messages)
        times = await _claim_all(delivery)
        print(f"  claim {category:13} median {statistics.median(times):7.1f} ms / 500 "
              f"({messages / (sum(times) / 1000):,.0f} messages/s claimed)")
    await engine.dispose()

    key = dkim.generate_key("bench", "kumo.example")
    message = (b"From: shop@kumo.example\r\nTo: c@example.com\r\nSubject: s\r\n"
               b"Date: Sun, 22 Nov 2026 01:00:00 +0000\r\nMessage-ID: <x@kumo.example>\r\n\r\n"
               + (b"y" * 76 + b"\r\n") * 170)  # ~13 KB
    ours = _median_ms(lambda: dkim.sign(message, key))
    theirs = _median_ms(lambda: dkimpy.sign(message, b"bench", b"kumo.example", key.private_key.encode(),
                                            canonicalize=(b"relaxed", b"relaxed"),
                                            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]))
    print(f"  DKIM sign (RSA 2048, 13 KB): {ours:.1f} ms a message (OpenSSL RSA); "
          f"dkimpy's own sign: {theirs:.1f} ms")


def _median_ms(work: Callable[[], object], runs: int = 50) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(args.database or f"sqlite:///{folder}/bench.db", args.messages))

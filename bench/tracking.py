"""Costs added by suppression, tracking and attribution, printed (never asserted).

1. making one rendered message trackable (links signed, UTM, pixel), per built-in template;
2. the delivery-time suppression check for a claim of 500 recipients against 100,000 suppressed
   addresses;
3. attribution when ``order.placed`` is stored: 500 orders, each customer with clicks among
   50,000 engagement rows.

    .venv/bin/python bench/tracking.py [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert

from afterorder.compliance.suppression import address_hash, reasons_for
from afterorder.content import Renderer
from afterorder.db.database import open_engine
from afterorder.db.migrate import upgrade
from afterorder.db.schema import customers, engagements, orders, outbox, stores, suppressions
from afterorder.domain import CustomerSnapshot, LineSnapshot, OrderSnapshot, ShipmentSnapshot, StoreSnapshot
from afterorder.signing import Signer, new_signing_key
from afterorder.tracking.attribution import attribute_orders
from afterorder.tracking.links import LinkContext, instrument
from afterorder.tracking.settings import TrackingSettings

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def bench_instrument() -> None:
    store = StoreSnapshot(slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="s@kumo.example",
                          country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY",
                          support_email="s@kumo.example", support_url="https://kumo.example/help")
    lines = tuple(LineSnapshot(f"急須 {i}", 1, Decimal(3000), url=f"https://kumo.example/p/{i}") for i in range(4))
    order = OrderSnapshot("#1001", "JPY", NOW, lines, total=Decimal(12000),
                          shipment=ShipmentSnapshot("ヤマト", "1234", "https://track.example/1234"))
    renderer = Renderer([])
    ctx = LinkContext(Signer(new_signing_key()), 1, "run:1:step:0", "https://ao.example", "post-purchase", "x",
                      TrackingSettings(domains=("kumo.example",)))
    for template in ("order-confirmation", "shipping-confirmation", "delivery-follow-up"):
        customer = CustomerSnapshot("a@example.jp", "太郎", "山田")
        rendered = renderer.render(template, "ja", store=store, customer=customer, order=order, shipment=order.shipment)
        n = 2000
        started = time.perf_counter()
        for _ in range(n):
            instrument(rendered, ctx)
        per = (time.perf_counter() - started) / n * 1e6
        links = instrument(rendered, ctx).html.count("/t/c/")
        print(f"instrument {template:<22} {len(rendered.html):>6} B html, {links} links: {per:7.1f} µs/message")


async def bench_database(url: str) -> None:
    engine = open_engine(url)
    await upgrade(engine)
    async with engine.begin() as conn:
        store_id = (await conn.execute(insert(stores).values(
            slug="bench", name="b", email_from="b@b.example", reply_to="b@b.example", country="JP", locale="ja",
            timezone="UTC", currency="JPY", postal_address="", support_email="", support_phone="", support_url="",
            brand_color="#000000", logo_url="", api_key_hash="x" * 64, api_key_prefix="x", signing_key="k" * 64,
            created_at=NOW).returning(stores.c.id))).scalar_one()
        await conn.execute(insert(suppressions), [
            {"store_id": store_id, "address_hash": address_hash(f"gone{i}@example.com"),
             "address": f"gone{i}@example.com", "reason": "hard_bounce", "source": "bench", "detail": "",
             "created_at": NOW} for i in range(100_000)])
        customer_ids = (await conn.execute(insert(customers).returning(customers.c.id), [
            {"store_id": store_id, "external_id": f"c{i}", "email": f"c{i}@example.com", "accepts_marketing": True,
             "created_at": NOW, "updated_at": NOW} for i in range(5000)])).scalars().all()
        outbox_id = (await conn.execute(insert(outbox).values(
            store_id=store_id, idempotency_key="k", message_id="<m>", channel="email", category="marketing",
            template="t", locale="ja", envelope_from="b@b.example", recipient="c0@example.com", subject="s",
            status="sent", attempts=1, next_attempt_at=NOW, created_at=NOW).returning(outbox.c.id))).scalar_one()
        await conn.execute(insert(engagements), [
            {"store_id": store_id, "outbox_id": outbox_id, "customer_id": customer_ids[i % 5000], "kind": "click",
             "machine_open": False, "event_id": i, "at": NOW - timedelta(minutes=i % 10_000)} for i in range(50_000)])
        order_ids = (await conn.execute(insert(orders).returning(orders.c.id), [
            {"store_id": store_id, "external_id": f"o{i}", "customer_id": customer_ids[i], "number": str(i),
             "currency": "JPY", "total": Decimal(1000), "status": "placed", "placed_at": NOW, "updated_at": NOW}
            for i in range(500)])).scalars().all()
    recipients = [(store_id, f"gone{i * 7}@example.com" if i % 2 else f"here{i}@example.com") for i in range(500)]
    async with engine.connect() as conn:
        started = time.perf_counter()
        for _ in range(10):
            found = await reasons_for(conn, recipients)
        per = (time.perf_counter() - started) / 10 * 1000
    print(f"{engine.dialect.name}: suppression check, 500 recipients vs 100,000 suppressed: {per:6.1f} ms per claim "
          f"({sum(1 for r in found.values() if r)} blocked)")
    async with engine.begin() as conn:
        started = time.perf_counter()
        credited = await attribute_orders(conn, store_id, TrackingSettings(), [
            (o, customer_ids[i], NOW) for i, o in enumerate(order_ids)], NOW)
        per = (time.perf_counter() - started) / len(order_ids) * 1000
    print(f"{engine.dialect.name}: attribution, 500 orders vs 50,000 engagements: {per:6.3f} ms per order "
          f"({credited} credited)")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", action="append", default=[])
    args = parser.parse_args()
    bench_instrument()
    with tempfile.TemporaryDirectory() as tmp:
        for url in args.database or [f"sqlite:///{tmp}/bench.db"]:
            asyncio.run(bench_database(url))


if __name__ == "__main__":
    main()

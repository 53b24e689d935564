"""History import and the catalog on real databases: what a store owner sees after bringing years of
orders in (customers, orders, lines, statuses; no mail), a second run changing nothing, and the
catalog kept from product events and a products import."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.catalog import get_product, list_products
from afterorder.db.schema import customer_stats, customers, events, flow_runs, order_lines, orders, outbox, products
from afterorder.db.stores import StoreRow
from afterorder.domain import Event
from afterorder.history import FileFormatError, ImportReport, import_file, open_source
from afterorder.history.formats import Kind
from afterorder.history.parse_process import MODULE, ParseProcessGone
from afterorder.history.records import Context
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import JP_STORE, add_store, order_event, running
from tests.integration.test_history_batches import snapshot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "history"
TABLES = (customers, orders, order_lines, events, products, flow_runs, outbox)


async def import_path(runtime: Runtime, store: StoreRow, path: Path, kind: Kind, *, parse_process: bool = False,
                      batch_events: int = 4) -> ImportReport:
    ctx = Context(file=path.name, timezone=ZoneInfo(store.timezone), currency=store.currency, now=runtime.clock.now())
    source = open_source(path, kind, ctx)
    try:
        return await import_file(runtime.engine, runtime.intake, store, source, batch_events=batch_events,
                                 parse_process=parse_process)
    finally:
        source.close()


async def counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.engine.connect() as conn:
        return {t.name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one()) for t in TABLES}


async def test_shopify_history_fills_customers_and_orders_and_sends_nothing(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.connect() as conn:
            assert "order-confirmation" in {f.id for f in await runtime.catalog.enabled(conn, store)}

        people = await import_path(runtime, store, FIXTURES / "shopify_customers_export.csv", "customers")
        history = await import_path(runtime, store, FIXTURES / "shopify_orders_export.csv", "orders")
        assert (people.records, people.new, len(people.rejected)) == (3, 3, 3)
        assert (history.records, history.new, history.events_stored, len(history.rejected)) == (4, 4, 12, 4)
        while await runtime.scheduler.run_due():
            pass
        after = await counts(runtime)
        assert after["flow_runs"] == 0 and after["outbox"] == 0  # no confirmation mail for a 2019 order

        async with runtime.engine.connect() as conn:
            found = {r["number"]: r for r in (await conn.execute(select(orders))).mappings()}
            people_by_id = {r["id"]: r for r in (await conn.execute(select(customers))).mappings()}
            lines = (await conn.execute(select(order_lines.c.title, order_lines.c.quantity).join(
                orders, orders.c.id == order_lines.c.order_id).where(orders.c.number == "#1001")
                .order_by(order_lines.c.position))).all()
            sources = set((await conn.execute(select(events.c.source).distinct())).scalars())
        assert sources == {"import"}
        kyoto = found["#1001"]
        assert kyoto["status"] == "shipped" and kyoto["total"] == Decimal(17300) and kyoto["currency"] == "JPY"
        assert kyoto["placed_at"] == T0.replace(year=2019, month=3, day=4, hour=1, minute=15)
        assert kyoto["paid_at"] is not None
        assert kyoto["shipped_at"] - kyoto["placed_at"] == timedelta(hours=28, minutes=45)
        assert [tuple(r) for r in lines] == [("京焼 急須 - 白", 1), ("煎茶 100g", 3)]
        # the order joined the customer the customers export brought (by email), with its consent
        taro = people_by_id[kyoto["customer_id"]]
        assert taro["external_id"] == "7210448301001" and taro["first_name"] == "太郎" and taro["accepts_marketing"]
        assert found["#1002"]["status"] == "refunded" and found["#1002"]["cancelled_at"] is not None
        assert found["#1003"]["status"] == "placed" and found["#1007"]["status"] == "refunded"
        assert found["#1002"]["customer_id"] == found["#1003"]["customer_id"] == found["#1007"]["customer_id"]

        # history keeps customer statistics too: #1003 is that customer's one purchase (#1002 was
        # cancelled and refunded, #1007 refunded)
        async with runtime.engine.connect() as conn:
            stats = {r.customer_id: r for r in await conn.execute(select(customer_stats))}
        assert stats[kyoto["customer_id"]].order_count == 1 and stats[kyoto["customer_id"]].total_spent == 17300
        other = stats[found["#1003"]["customer_id"]]
        assert (other.order_count, other.refund_count, other.cancel_count) == (1, 1, 1)

        # the same files again: nothing changes
        again = await import_path(runtime, store, FIXTURES / "shopify_orders_export.csv", "orders")
        again_people = await import_path(runtime, store, FIXTURES / "shopify_customers_export.csv", "customers")
        assert (again.new, again.unchanged, again.events_stored, again.events_duplicate) == (0, 4, 0, 12)
        assert again_people.new == 0
        assert await counts(runtime) == after

        # live events still reach flows: only history is kept from them
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", "L1", T0))])
        assert (await counts(runtime))["flow_runs"] == 1


def product(event_id: str, kind: str, at: Any, **fields: Any) -> Event:
    return Event.model_validate({"id": event_id, "type": kind, "occurred_at": at.isoformat(),
                                 "product": {"id": "p-matcha", **fields}})


async def test_the_catalog_follows_product_events(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await runtime.intake.ingest(store, [
            product("e1", "product.updated", T0, variant_id="30g", title="抹茶 30g", category="tea",
                    tags=["organic"], price="1500", image_url="https://cdn.example/m.jpg", in_stock=False,
                    inventory_quantity=0, replenish_days=30),
            product("e2", "product.updated", T0, title="抹茶", price="4000"),
        ])
        await runtime.intake.ingest(store, [product("e3", "product.restocked", T0 + timedelta(hours=1),
                                                    variant_id="30g", inventory_quantity=12)])
        # a late webhook describing an older state changes nothing
        await runtime.intake.ingest(store, [product("e4", "product.updated", T0 - timedelta(days=1),
                                                    variant_id="30g", title="old title", in_stock=False)])
        async with runtime.engine.connect() as conn:
            variant = await get_product(conn, store.id, "p-matcha", "30g")
            plain = await get_product(conn, store.id, "p-matcha")
            listed = await list_products(conn, store.id)
            in_stock = await list_products(conn, store.id, in_stock=True)
        assert variant is not None and plain is not None
        assert (variant.title, variant.category, variant.tags, variant.price, variant.currency) == (
            "抹茶 30g", "tea", ["organic"], Decimal(1500), "JPY")
        assert (variant.in_stock, variant.inventory_quantity, variant.replenish_days) == (True, 12, 30)
        assert variant.image_url == "https://cdn.example/m.jpg" and variant.updated_at == T0 + timedelta(hours=1)
        assert (plain.title, plain.price, plain.variant_id, plain.tags) == ("抹茶", Decimal(4000), "", [])
        assert [(p.product_id, p.variant_id) for p in listed] == [("p-matcha", ""), ("p-matcha", "30g")]
        assert [p.variant_id for p in in_stock] == ["30g"]

        # an order line naming the product but not its picture or category takes them from the catalog
        placed = order_event("order.placed", "C1", T0)
        placed["order"]["lines"] = [{"product_id": "p-matcha", "title": "抹茶", "price": 1500},
                                    {"product_id": "p-none", "title": "?", "price": 1}]
        await runtime.intake.ingest(store, [Event.model_validate(placed)])
        async with runtime.engine.connect() as conn:
            lines = (await conn.execute(select(order_lines.c.product_id, order_lines.c.image_url,
                                               order_lines.c.category).order_by(order_lines.c.position))).all()
        assert [tuple(r) for r in lines] == [("p-matcha", "https://cdn.example/m.jpg", "tea"), ("p-none", None, None)]


async def test_a_products_import_fills_the_catalog_once(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text("product_id,variant_id,sku,title,category,tags,price,in_stock,replenish_days,url\n"
                    "p-1,,S-1,煎茶,tea,\"green, daily\",1200,yes,45,https://shop.example/p-1\n"
                    "p-2,l,S-2L,湯呑 L,ware,,2500,no,,\n"
                    "p-3,,,bad,,,-1,,,\n", encoding="utf-8")
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        report = await import_path(runtime, store, path, "products")
        assert (report.records, report.new, [r.row for r in report.rejected]) == (2, 2, [4])
        again = await import_path(runtime, store, path, "products")
        assert (again.new, again.unchanged) == (0, 2)
        async with runtime.engine.connect() as conn:
            listed = await list_products(conn, store.id)
        assert [(p.product_id, p.variant_id, p.title, p.tags, p.price, p.in_stock, p.replenish_days, p.currency)
                for p in listed] == [
            ("p-1", "", "煎茶", ["green", "daily"], Decimal(1200), True, 45, "JPY"),
            ("p-2", "l", "湯呑 L", [], Decimal(2500), False, None, "JPY")]
        assert (await counts(runtime))["flow_runs"] == 0


async def test_an_import_computes_statistics_once_and_catches_up_on_a_killed_one(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        # what an import killed after its first batch leaves: the order stored, statistics not yet computed
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.placed", "H1", T0 - timedelta(
            days=400)))], source="import", historical=True, stats_later=True)
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(customer_stats))).scalar_one() == 0
        clock.advance(3600)
        # the next import (of another file) ends by computing what the killed one left
        report = await import_path(runtime, store, FIXTURES / "shopify_orders_export.csv", "orders")
        assert report.new == 4
        async with runtime.engine.connect() as conn:
            stats = {r.external_id: r for r in await conn.execute(
                select(customers.c.external_id, customer_stats.c.order_count, customer_stats.c.total_spent,
                       customer_stats.c.updated_at).join(customers, customers.c.id == customer_stats.c.customer_id))}
        assert (stats["cust-H1"].order_count, stats["cust-H1"].total_spent) == (1, Decimal(15000))
        assert len(stats) == 3 and {s.updated_at for s in stats.values()} == {T0 + timedelta(hours=1)}


async def test_a_parsing_process_imports_exactly_what_parsing_here_imports(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        here, _ = await add_store(runtime)
        there, _ = await add_store(runtime, {**JP_STORE, "slug": "kumo-process"})
        reports = {}
        for store, parse_process in ((here, False), (there, True)):
            for name, kind in (("shopify_customers_export.csv", "customers"), ("shopify_orders_export.csv", "orders")):
                report = await import_path(runtime, store, FIXTURES / name, kind,  # type: ignore[arg-type]
                                           parse_process=parse_process)
                reports[(parse_process, kind)] = {k: v for k, v in report.as_json().items() if k != "seconds"}
        assert reports[(True, "orders")] == reports[(False, "orders")]
        assert reports[(True, "customers")] == reports[(False, "customers")]
        assert reports[(True, "orders")]["events_stored"] == 12
        expected, got = await snapshot(runtime, here.id), await snapshot(runtime, there.id)
    assert got["orders"] and got["customer_stats"]
    for table, rows in expected.items():
        assert got[table] == rows, table


def orders_export(count: int) -> bytes:
    """A Shopify orders export of ``count`` good orders of two lines each."""
    header, first, second, *_ = (FIXTURES / "shopify_orders_export.csv").read_bytes().splitlines(keepends=True)
    assert first.startswith(b"#1001,") and second.startswith(b"#1001,") and b",5550000001," in first
    return header + b"".join((first + second).replace(b"#1001,", f"#{n},".encode())
                             .replace(b",5550000001,", f",{9_000_000 + n},".encode()) for n in range(count))


async def test_a_file_unreadable_part_way_keeps_the_batches_before_it(database_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "orders_export.csv"
    broken.write_bytes(orders_export(300) + b"#1009,\xff\xfe not text\n")
    async with running(database_url, FrozenClock(T0)) as runtime:
        for parse_process in (False, True):
            store, _ = await add_store(runtime, {**JP_STORE, "slug": f"kumo-{parse_process}".lower()})
            with pytest.raises(FileFormatError, match="not UTF-8"):
                await import_path(runtime, store, broken, "orders", parse_process=parse_process, batch_events=2)
            async with runtime.engine.connect() as conn:
                stored = (await conn.execute(select(func.count()).select_from(orders)
                                             .where(orders.c.store_id == store.id))).scalar_one()
            assert 100 < stored < 300  # the batches read before the bad bytes are in


def _parsing_processes() -> list[int]:
    mine = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
        if parent == mine and MODULE.encode() in command:
            found.append(int(entry.name))
    return found


async def test_a_parsing_process_that_dies_stops_the_import_with_a_clear_error(sqlite_url: str,
                                                                              tmp_path: Path) -> None:
    big = tmp_path / "orders_export.csv"
    big.write_bytes(orders_export(20000))
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        batches = 0

        def progress(_: int) -> None:
            nonlocal batches
            batches += 1
            if batches == 2:
                for pid in _parsing_processes():
                    os.kill(pid, signal.SIGKILL)

        ctx = Context(file=big.name, timezone=ZoneInfo(store.timezone), currency=store.currency, now=T0)
        source = open_source(big, "orders", ctx)
        try:
            with pytest.raises(ParseProcessGone, match="running the same file again is safe"):
                await import_file(runtime.engine, runtime.intake, store, source, batch_events=50,
                                  on_progress=progress, parse_process=True)
        finally:
            source.close()
        assert _parsing_processes() == []
        async with runtime.engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(orders))).scalar_one()
        assert 30 <= stored < 20000  # the batches stored before it stopped (two of 50 events) are kept

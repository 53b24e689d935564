"""Reading history files: Shopify's exports, afterorder's generic CSV and JSON lines, field by field,
and rejected rows named by row number and reason."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from afterorder.db.projections import merge_order_params
from afterorder.domain import EventType
from afterorder.history import FileFormatError, Record, Rejected, open_source
from afterorder.history.formats import Kind
from afterorder.history.records import Context

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "history"
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
JST = timezone(timedelta(hours=9))
EDT = timezone(timedelta(hours=-4))


def read(path: Path, kind: Kind, fmt: str | None = None) -> tuple[list[Record], list[Rejected]]:
    source = open_source(path, kind, Context(file=path.name, timezone=ZoneInfo("Asia/Tokyo"), currency="JPY", now=NOW),
                         fmt)
    try:
        items = list(source.records)
    finally:
        source.close()
    return [i for i in items if isinstance(i, Record)], sorted((i for i in items if isinstance(i, Rejected)),
                                                               key=lambda r: r.row)


def test_a_shopify_order_export_becomes_each_orders_life_as_events() -> None:
    records, _ = read(FIXTURES / "shopify_orders_export.csv", "orders")
    by_number = {r.events[0].order.number: r for r in records}  # type: ignore[union-attr]
    assert sorted(by_number) == ["#1001", "#1002", "#1003", "#1007"]

    kyoto = by_number["#1001"]
    assert kyoto.row == 2
    assert [(e.id, e.type, e.occurred_at) for e in kyoto.events] == [
        ("import:order:5550000001:placed", EventType.ORDER_PLACED, datetime(2019, 3, 4, 10, 15, tzinfo=JST)),
        ("import:order:5550000001:paid", EventType.ORDER_PAID, datetime(2019, 3, 4, 10, 16, 2, tzinfo=JST)),
        ("import:order:5550000001:shipped", EventType.ORDER_SHIPPED, datetime(2019, 3, 5, 15, 0, tzinfo=JST)),
    ]
    placed = kyoto.events[0]
    order, customer = placed.order, placed.customer
    assert order is not None and customer is not None
    assert (order.id, order.number, order.currency) == ("5550000001", "#1001", "JPY")
    assert (order.subtotal, order.shipping, order.tax, order.discount, order.total) == (
        Decimal(16500), Decimal(800), Decimal(1500), Decimal(0), Decimal(17300))
    assert [(line.title, line.sku, line.quantity, line.price) for line in order.lines] == [
        ("京焼 急須 - 白", "KYU-WHT", 1, Decimal(15000)), ("煎茶 100g", "SEN-100", 3, Decimal(500))]
    assert order.shipping_address is not None
    assert order.shipping_address.model_dump(exclude_none=True) == {
        "name": "山田 太郎", "line1": "四条通烏丸東入ル 1-2-3", "city": "京都市", "region": "26",
        "postal_code": "600-8005", "country": "JP", "phone": "+81752001234"}  # the export's ' guard is dropped
    assert customer.email == "taro.yamada@example.jp" and customer.country == "JP"
    assert customer.accepts_marketing is None  # consent comes from the customers export, not from old orders
    # the lifecycle events name the order only; the raw rows stay beside the first
    assert kyoto.events[1].order is not None and kyoto.events[1].order.lines == []
    assert kyoto.raw[0]["row"] == 2 and len(kyoto.raw[0]["rows"]) == 2
    # what the events do not hold is kept raw: together they are the whole row
    first_row = kyoto.raw[0]["rows"][0]
    assert first_row["Payment Method"] == "Shopify Payments" and first_row["Tax 1 Name"] == "消費税 10%"
    assert first_row["Name"] == "#1001" and "Lineitem name" not in first_row and "Total" not in first_row


def test_cancellations_and_refunds_from_the_export() -> None:
    records, _ = read(FIXTURES / "shopify_orders_export.csv", "orders")
    by_number = {r.events[0].order.number: r for r in records}  # type: ignore[union-attr]
    cancelled = by_number["#1002"]
    assert [e.type for e in cancelled.events] == [EventType.ORDER_PLACED, EventType.ORDER_PAID,
                                                  EventType.ORDER_CANCELLED, EventType.ORDER_REFUNDED]
    refund = cancelled.events[-1].refund
    assert refund is not None and refund.amount == Decimal("130.00") and refund.currency == "USD"
    # the export has no refund time: the order's last known moment (its cancellation)
    assert cancelled.events[-1].occurred_at == datetime(2020, 6, 2, 11, 30, tzinfo=EDT)

    partial = by_number["#1007"]
    assert [e.type for e in partial.events][-1] is EventType.ORDER_REFUNDED
    assert partial.events[-1].refund.amount == Decimal("20.00")  # type: ignore[union-attr]
    assert partial.events[0].order.discount == Decimal("5.00")  # type: ignore[union-attr]

    pending = by_number["#1003"]
    assert [e.type for e in pending.events] == [EventType.ORDER_PLACED]


def test_bad_shopify_rows_are_rejected_with_row_and_reason() -> None:
    _, rejected = read(FIXTURES / "shopify_orders_export.csv", "orders")
    assert [(r.row, r.reason) for r in rejected] == [
        (6, "order #1004: row 7: Lineitem price: 'abc' is not an amount"),
        (8, "order #1005: Created at: 'yesterday' is not a date and time (e.g. 2024-05-01 14:30:00 +0900)"),
        (9, "order #1006: Currency: 'XYZ' is not a known currency code (e.g. JPY, USD, EUR)"),
        (10, "Name: missing (the order's name, e.g. #1001)"),
    ]


def test_a_shopify_customer_export() -> None:
    records, rejected = read(FIXTURES / "shopify_customers_export.csv", "customers")
    taro = records[0].events[0]
    assert taro.type is EventType.CUSTOMER_UPDATED and taro.occurred_at == NOW
    assert taro.customer is not None and taro.customer.model_dump(exclude_none=True) == {
        "id": "7210448301001", "email": "taro.yamada@example.jp", "first_name": "太郎", "last_name": "山田",
        "phone": "+81752001234", "country": "JP", "accepts_marketing": True}
    assert records[1].events[0].customer.accepts_marketing is False  # type: ignore[union-attr]
    assert [(r.row, r.reason) for r in rejected] == [
        (5, "Customer ID or Email: one is needed to know who this is"),
        (6, "Default Address Country Code: 'France' is not a two-letter country code (e.g. JP, US)"),
        (7, "Accepts Email Marketing: 'maybe' is not yes or no"),
    ]


def test_reading_the_same_file_twice_gives_the_same_event_ids(tmp_path: Path) -> None:
    first, _ = read(FIXTURES / "shopify_customers_export.csv", "customers")
    again, _ = read(FIXTURES / "shopify_customers_export.csv", "customers")
    assert [e.id for r in first for e in r.events] == [e.id for r in again for e in r.events]
    changed = tmp_path / "customers.csv"
    text = (FIXTURES / "shopify_customers_export.csv").read_text(encoding="utf-8")
    changed.write_text(text.replace("Emma,Smith,emma@example.com,no", "Emma,Smith,emma@example.com,yes"),
                       encoding="utf-8")
    edited, _ = read(changed, "customers")
    assert edited[0].events[0].id == first[0].events[0].id  # unchanged row, same id
    assert edited[1].events[0].id != first[1].events[0].id  # a changed row is news


GENERIC_ORDERS = """order_id,order_number,currency,placed_at,paid_at,shipped_at,delivered_at,total,email,customer_id,\
first_name,locale,carrier,tracking_number,line_title,line_quantity,line_price,line_product_id,line_category
A-1,#A1,JPY,2024-05-01 14:30,2024-05-01T14:31:00+09:00,2024-05-02 09:00,2024-05-04 12:00,3300,\
hana@example.jp,c-9,花子,ja,ヤマト運輸,1234-5678,抹茶,2,1500,p-matcha,tea
A-1,,,,,,,,,,,,,,茶筅,1,300,p-chasen,tools
A-2,#A2,JPY,2024-05-03,,,,1000,hana@example.jp,c-9,,,,,ほうじ茶,1,1000,,
A-3,#A3,JPY,someday,,,,1000,,,,,,,ほうじ茶,1,1000,,
A-4,#A4,JPY,2024-05-05 10:00,,,,-5,,,,,,,ほうじ茶,1,1000,,
A-5,#A5,JPY,2024-05-05 10:00,,,,1000,,,,,,,ほうじ茶,two,1000,,
"""


def test_generic_orders_csv(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(GENERIC_ORDERS, encoding="utf-8")
    records, rejected = read(path, "orders")
    first = records[0]
    assert [e.type for e in first.events] == [EventType.ORDER_PLACED, EventType.ORDER_PAID, EventType.ORDER_SHIPPED,
                                              EventType.ORDER_DELIVERED]
    placed = first.events[0]
    assert placed.occurred_at == datetime(2024, 5, 1, 14, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # the store's time
    assert placed.customer is not None and (placed.customer.id, placed.customer.first_name) == ("c-9", "花子")
    assert placed.order is not None and [(li.title, li.quantity, li.product_id, li.category)
                                         for li in placed.order.lines] == [
        ("抹茶", 2, "p-matcha", "tea"), ("茶筅", 1, "p-chasen", "tools")]
    shipment = first.events[2].shipment
    assert shipment is not None and (shipment.carrier, shipment.tracking_number) == ("ヤマト運輸", "1234-5678")
    assert records[1].events[0].occurred_at == datetime(2024, 5, 3, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert [(r.row, r.reason) for r in rejected] == [
        (5, "order A-3: placed_at: 'someday' is not a date and time (e.g. 2024-05-01 14:30:00 +0900)"),
        (6, "order A-4: total: '-5' is not an amount"),
        (7, "order A-5: row 7: line_quantity: 'two' is not a whole number"),
    ]


def test_generic_customers_and_products_csv(tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,email,first_name,locale,timezone,accepts_marketing\n"
                         "c-1,Hana@Example.jp,花子,ja,Asia/Tokyo,yes\n"
                         "c-2,not-an-email,x,en,UTC,no\n"
                         "c-3,c3@example.com,y,en,Mars/Base,no\n", encoding="utf-8")
    records, rejected = read(customers, "customers")
    assert records[0].events[0].customer.model_dump(exclude_none=True) == {  # type: ignore[union-attr]
        "id": "c-1", "email": "hana@example.jp", "first_name": "花子", "locale": "ja", "timezone": "Asia/Tokyo",
        "accepts_marketing": True}
    assert [r.row for r in rejected] == [3, 4]
    assert rejected[0].reason.startswith("customer.email:") and "Mars/Base" in rejected[1].reason

    products = tmp_path / "products.csv"
    products.write_text("product_id,variant_id,sku,title,category,tags,price,currency,in_stock,replenish_days,url\n"
                        "p-matcha,30g,M-30,抹茶 30g,tea,\"organic, uji\",1500,JPY,yes,30,https://shop.example/m\n"
                        "p-bad,,,x,,,1.5.0,,,,\n"
                        ",,,no id,,,,,,,\n", encoding="utf-8")
    records, rejected = read(products, "products")
    event = records[0].events[0]
    assert event.type is EventType.PRODUCT_UPDATED and event.product is not None
    assert event.product.model_dump(exclude_none=True) == {
        "id": "p-matcha", "variant_id": "30g", "sku": "M-30", "title": "抹茶 30g", "category": "tea",
        "tags": ["organic", "uji"], "price": Decimal(1500), "currency": "JPY", "in_stock": True, "replenish_days": 30,
        "url": "https://shop.example/m"}
    assert [(r.row, r.reason) for r in rejected] == [(3, "price: '1.5.0' is not an amount"),
                                                     (4, "product_id: missing")]


def test_json_lines_are_api_events(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = {"id": "e-1", "type": "product.restocked", "occurred_at": "2024-05-01T10:00:00+09:00",
            "product": {"id": "p-1", "in_stock": True}}
    bad = {"id": "e-2", "type": "order.placed", "occurred_at": "2024-05-01T10:00:00+09:00"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n{oops\n", encoding="utf-8")
    records, rejected = read(path, "products")
    assert records[0].events[0].id == "e-1" and records[0].raw == [good]
    assert [(r.row, r.reason) for r in rejected] == [
        (3, "(body): Value error, an order.placed event needs an 'order' object"),
        (4, "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ]


def test_files_that_cannot_be_read_are_refused_whole(tmp_path: Path) -> None:
    typo = tmp_path / "orders.csv"
    typo.write_text("order_id,placed_at,totl\n1,2024-05-01,10\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"unknown column.*'totl'"):
        read(typo, "orders")
    unknown = tmp_path / "orders.xlsx"
    unknown.write_text("x", encoding="utf-8")
    with pytest.raises(FileFormatError, match=re.escape("pass --format csv|jsonl")):
        read(unknown, "orders")
    exported = tmp_path / "export.data"
    exported.write_text("order_id,placed_at,line_title\n1,2024-05-01,抹茶\n", encoding="utf-8")
    assert len(read(exported, "orders", "csv")[0]) == 1  # --format csv names what the extension does not


def test_an_orders_events_fold_into_the_row_the_database_would_reach() -> None:
    def params(status: str, rank: int, **extra: object) -> dict[str, object]:
        base: dict[str, object] = {
            "external_id": "1", "status": status, "rank": rank, "number": "1", "number_given": False,
            "currency": "JPY", "currency_given": False, "placed_at": f"at-{status}", "is_placed": status == "placed",
            "updated_at": "now", "customer_id": None, "subtotal": None, "shipping": None, "tax": None,
            "discount": None, "total": None, "shipping_address": None, "billing_address": None, "shipment": None,
            "paid_at": None, "shipped_at": None, "out_for_delivery_at": None, "delivered_at": None,
            "cancelled_at": None, "refunded_at": None}
        base.update(extra)
        return base

    merged = merge_order_params([
        params("paid", 1, paid_at="t-paid"),
        params("placed", 0, number="#1", number_given=True, customer_id=7, total=10),
        params("shipped", 2, shipped_at="t-ship"),
        params("paid", 1),
        params("cancelled", 9, cancelled_at="t-cancel"),
        params("refunded", 9, refunded_at="t-refund"),
    ])
    assert len(merged) == 1
    row = merged[0]
    assert (row["status"], row["rank"]) == ("refunded", 9)  # the last of the highest rank
    assert (row["number"], row["number_given"], row["customer_id"], row["total"]) == ("#1", True, 7, 10)
    assert (row["placed_at"], row["is_placed"]) == ("at-placed", True)
    assert (row["paid_at"], row["shipped_at"], row["cancelled_at"], row["refunded_at"]) == (
        "t-paid", "t-ship", "t-cancel", "t-refund")
    back = merge_order_params([params("shipped", 2), params("paid", 1)])[0]
    assert back["status"] == "shipped"  # a status never goes back

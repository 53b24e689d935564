"""EC-CUBE's 受注CSV (a shop without the Web API plugin) through the history import: the admin's column
names, one row per order item, Shift_JIS (EC-CUBE's default) or UTF-8 found by itself."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.schema import customers, events, order_lines, orders
from afterorder.history import FileFormatError
from afterorder.history.formats import text_encoding
from tests.conftest import T0
from tests.factories import add_store, running
from tests.integration.test_history_import import FIXTURES, counts, import_path

EXPORT = FIXTURES / "eccube_order_export.csv"  # constructed with the header of ec-cube's dtb_csv.csv (CSV type 3)


def shift_jis_copy(directory: Path) -> Path:
    """The same export as EC-CUBE writes it by default (``eccube_csv_export_encoding: SJIS-win``)."""
    path = directory / "order_20190701120000.csv"
    path.write_bytes(EXPORT.read_text(encoding="utf-8").encode("cp932"))
    return path


@pytest.mark.parametrize("encoding", ["shift_jis", "utf-8"])
async def test_an_eccube_order_export_becomes_orders_with_their_statuses(database_url: str, tmp_path: Path,
                                                                         encoding: str) -> None:
    path = shift_jis_copy(tmp_path) if encoding == "shift_jis" else EXPORT
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        report = await import_path(runtime, store, path, "orders")
        assert report.format == "eccube-csv"
        assert (report.records, report.new, report.events_stored) == (5, 5, 12)
        assert [(r.row, r.reason) for r in report.rejected] == [
            (12, "order 1005: 対応状況(ID): 7 決済処理中 (payment under way) is not an order yet")]
        async with runtime.engine.connect() as conn:
            found = {r["number"]: r for r in (await conn.execute(select(orders))).mappings()}
            lines = (await conn.execute(select(order_lines.c.title, order_lines.c.variant, order_lines.c.quantity,
                                               order_lines.c.price).join(orders, orders.c.id == order_lines.c.order_id)
                                        .where(orders.c.number == "1001").order_by(order_lines.c.position))).all()
            people = {r["email"]: r for r in (await conn.execute(select(customers))).mappings()}
            shipped = (await conn.execute(select(events.c.payload).where(events.c.type == "order.shipped")
                                          .order_by(events.c.occurred_at))).scalars().first()
        assert {n: r["status"] for n, r in found.items()} == {
            "1001": "shipped", "1002": "cancelled", "1003": "refunded", "1004": "placed", "1006": "paid"}
        first = found["1001"]
        assert first["total"] == Decimal(5840) and first["currency"] == "JPY"
        assert first["placed_at"] == T0.replace(year=2019, month=3, day=4, hour=1, minute=15), "受注日 in Tokyo"
        assert first["shipped_at"] == T0.replace(year=2019, month=3, day=5, hour=6, minute=0)
        assert [tuple(r) for r in lines] == [("チェリーアイスサンド", None, 1, Decimal(3080)),
                                             ("彩のジェラートCUBE", "チョコ / 16mm × 16mm", 2, Decimal(880))], \
            "送料 and 手数料 rows are no lines; prices with tax as the shop shows them"
        assert shipped is not None
        shipment = shipped["shipment"]
        assert (shipment["carrier"], shipment["tracking_number"]) == ("ヤマト運輸", "4391-0012-3456")
        assert people["hanako.yamada@example.jp"]["external_id"] == "7"
        assert people["guest@example.jp"]["last_name"] == "佐藤", "a guest order's customer is known by email"

        before = await counts(runtime)
        other = EXPORT if encoding == "shift_jis" else shift_jis_copy(tmp_path)
        again = await import_path(runtime, store, other, "orders")
        assert (again.new, again.events_stored) == (0, 0), "the same export in the other encoding adds nothing"
        assert await counts(runtime) == before


def test_the_encoding_is_told_from_the_bytes(tmp_path: Path) -> None:
    text = EXPORT.read_text(encoding="utf-8")
    assert text_encoding(text.encode("utf-8")) == "utf-8-sig"
    assert text_encoding(b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    assert text_encoding(text.encode("cp932")) == "cp932"
    assert text_encoding("注文ID".encode()[:-1]) == "utf-8-sig", "a sample cut mid-character is still UTF-8"
    assert text_encoding(text.encode("utf-8") + b"\xff\xfe") == "utf-8-sig", "neither: read as UTF-8, refused by name"


async def test_an_export_missing_its_order_date_column_is_refused_by_name(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes("注文ID,商品名,個数\n1,煎茶,1\n".encode("cp932"))
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        with pytest.raises(FileFormatError, match="neither a Shopify or EC-CUBE orders export"):
            await import_path(runtime, store, path, "orders")

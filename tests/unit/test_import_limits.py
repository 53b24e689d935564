"""An import keeps the limits at the door (afterorder.intake.limits): a row whose time is before 1970 or
more than a day ahead, or whose number does not fit the database, is rejected with its row and the
field named; the boundary values are read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from afterorder.history import Record, Rejected, open_source
from afterorder.history.formats import Kind
from afterorder.history.records import Context
from afterorder.intake import limits

NOW = datetime.now(UTC).replace(microsecond=0)
HEADER = "order_id,order_number,currency,placed_at,shipped_at,total,line_title,line_quantity,line_price\n"


def read(path: Path, kind: Kind) -> tuple[list[Record], list[Rejected]]:
    ctx = Context(file=path.name, timezone=ZoneInfo("Asia/Tokyo"), currency="JPY", now=NOW)
    source = open_source(path, kind, ctx, None)
    try:
        items = list(source.records)
    finally:
        source.close()
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Rejected)]


def iso(at: datetime) -> str:
    return at.isoformat()


def test_orders_out_of_range_are_rejected_with_row_and_field(tmp_path: Path) -> None:
    rows = [
        ("B1", "1970-01-01T00:00:00+00:00", "", "1000", "1", "1000"),
        ("B2", "1969-12-31T23:59:59+00:00", "", "1000", "1", "1000"),
        ("B3", "0001-01-01T00:00:00+00:00", "", "1000", "1", "1000"),
        ("B4", "9999-12-31T23:59:59+00:00", "", "1000", "1", "1000"),
        ("B5", iso(NOW + limits.MAX_AHEAD), "", "1000", "1", "1000"),
        ("B6", iso(NOW + limits.MAX_AHEAD + timedelta(seconds=1)), "", "1000", "1", "1000"),
        ("B7", "2024-05-01T10:00:00+09:00", "9999-12-31T23:59:59+00:00", "1000", "1", "1000"),
        ("B8", "2024-05-01T10:00:00+09:00", "", "99999999999.9999", str(limits.MAX_QUANTITY), "99999999999.9999"),
        ("B9", "2024-05-01T10:00:00+09:00", "", "100000000000", "1", "1000"),
        ("B10", "2024-05-01T10:00:00+09:00", "", "1000", str(limits.MAX_QUANTITY + 1), "1000"),
        ("B11", "2024-05-01T10:00:00+09:00", "", "1000", "1", "0.00001"),
    ]
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(f"{o},#{o},JPY,{placed},{shipped},{total},茶,{qty},{price}\n"
                                     for o, placed, shipped, total, qty, price in rows), encoding="utf-8")
    records, rejected = read(path, "orders")
    assert [r.events[0].order.id for r in records if r.events[0].order] == ["B1", "B5", "B8"]
    reasons = {r.row: r.reason for r in rejected}
    assert reasons == {
        3: "order B2: placed_at: '1969-12-31T23:59:59+00:00' is before 1970-01-01 00:00 UTC",
        4: "order B3: placed_at: '0001-01-01T00:00:00+00:00' is before 1970-01-01 00:00 UTC",
        5: "order B4: placed_at: '9999-12-31T23:59:59+00:00' is more than 1 day ahead of now",
        7: f"order B6: placed_at: '{rows[5][1]}' is more than 1 day ahead of now",
        8: "order B7: shipped_at: '9999-12-31T23:59:59+00:00' is more than 1 day ahead of now",
        10: "order B9: order.total: Decimal input should have no more than 11 digits before the decimal point",
        11: "order B10: order.lines[0].quantity: Input should be less than or equal to 1000000",
        12: "order B11: order.lines[0].price: Decimal input should have no more than 4 decimal places",
    }


def test_json_lines_past_a_limit_are_rejected_naming_the_field(tmp_path: Path) -> None:
    def restock(event_id: str, at: str) -> str:
        return json.dumps({"id": event_id, "type": "product.restocked", "occurred_at": at,
                           "product": {"id": "p-1", "in_stock": True}})

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        restock("at-limit", iso(NOW + limits.MAX_AHEAD)),
        restock("ahead", iso(NOW + limits.MAX_AHEAD + timedelta(seconds=1))),
        restock("early", "1969-12-31T23:59:59Z"),
        "[" * 100_000,
    ]) + "\n", encoding="utf-8")
    records, rejected = read(path, "products")
    assert [r.events[0].id for r in records] == ["at-limit"]
    reasons = {r.row: r.reason for r in rejected}
    assert set(reasons) == {2, 3, 4}
    assert reasons[2].startswith("occurred_at: must be at most 1 day ahead")
    assert reasons[3] == "occurred_at: must be on or after 1970-01-01T00:00:00Z"
    assert reasons[4] == f"the JSON is nested more than {limits.MAX_JSON_DEPTH} levels deep"

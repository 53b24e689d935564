"""EC-CUBE 4's order export (admin → 受注管理 → 受注一覧 → CSVダウンロード, 受注CSV), for shops without the
Web API plugin.

The columns are those EC-CUBE writes by default (``dtb_csv`` rows of CSV type 3, ec-cube
``src/Eccube/Resource/doctrine/import_csv/ja/dtb_csv.csv``): 注文ID, 注文番号, 会員ID, お名前(姓), ...,
対応状況(ID), 受注日, 入金日, then the order item's 商品名, 個数, 価格 ... and the shipping's 出荷伝票番号,
発送日.  There is one row per order item (送料, 手数料, 値引き rows included: only 明細区分 1 商品
rows become lines), so consecutive rows with one 注文ID form the order.  Times are written
``Y-m-d H:i:s`` in the shop's time zone (the store's, here); amounts as EC-CUBE keeps them, 価格
without tax (税率 percent added back, as the shop shows it).  The shop's admin may switch columns
off: only 注文ID and 受注日 are needed.  The file is Shift_JIS (EC-CUBE's default ``SJIS-win``, read as
cp932) or UTF-8: ``formats`` tells them apart.

Status (対応状況(ID)) as the live mapping (``intake.eccube``): 入金日 or 入金済み / 発送済み → paid;
発送済み (and 返品 with a 発送日) → shipped at 発送日 with 出荷伝票番号 and 配送業者(名称); 注文取消し →
cancelled; 返品 → refunded (no amount); 決済処理中 and 購入処理中 are no orders and are rejected.  The file has no time
for a cancellation or a return: they are dated by the order's last known moment.  The column 送料
appears twice (the order's, then the shipping's); the order's is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from afterorder.history import cells
from afterorder.history.orders import OrderDraft, order_record
from afterorder.history.records import Context, Record, Rejected
from afterorder.history.rows import grouped_orders, kept
from afterorder.phones import lenient

ORDER_HEADER = {"注文ID", "受注日"}
CANCEL, DELIVERED, PAID, RETURNED = "3", "5", "6", "9"
NOT_AN_ORDER = {"7": "決済処理中 (payment under way)", "8": "購入処理中 (still a cart)"}
PRODUCT_ROW = "1"


def _name(row: dict[str, str], prefix: str = "") -> str | None:
    parts = [cells.text(row.get(f"{prefix}お名前(姓)")), cells.text(row.get(f"{prefix}お名前(名)"))]
    return " ".join(p for p in parts if p) or None


def _address(row: dict[str, str], prefix: str = "") -> dict[str, Any] | None:
    address = {"name": _name(row, prefix), "company": cells.text(row.get(f"{prefix}会社名")),
               "line1": cells.text(row.get(f"{prefix}住所2")), "city": cells.text(row.get(f"{prefix}住所1")),
               "region": cells.text(row.get(f"{prefix}都道府県(名称)")),
               "postal_code": cells.text(row.get(f"{prefix}郵便番号")), "phone": cells.text(row.get(f"{prefix}TEL"))}
    found = {k: v for k, v in address.items() if v is not None}
    return {**found, "country": "JP"} if found else None


def _line(row: dict[str, str]) -> dict[str, Any] | None:
    kind = cells.text(row.get("明細区分(ID)"))
    title = cells.text(row.get("商品名"))
    if kind not in (None, PRODUCT_ROW) or title is None:
        return None
    price = cells.amount("価格", row.get("価格")) or Decimal(0)
    rate = cells.amount("税率", row.get("税率"))
    if rate:
        price = (price * (100 + rate) / 100).quantize(Decimal(1), ROUND_HALF_UP)  # 四捨五入, EC-CUBE's default
    variant = " / ".join(v for v in (cells.text(row.get("規格分類名1")), cells.text(row.get("規格分類名2"))) if v)
    return {"title": title, "sku": cells.text(row.get("商品コード")), "product_id": cells.text(row.get("商品ID")),
            "variant": variant or None, "quantity": cells.count("個数", row.get("個数")) or 1, "price": price}


def _order(rows: list[tuple[int, dict[str, str]]], ctx: Context) -> Record:
    number, first = rows[0]
    status = cells.text(first.get("対応状況(ID)"))
    if status in NOT_AN_ORDER:
        raise cells.CellError(f"対応状況(ID): {status} {NOT_AN_ORDER[status]} is not an order yet")

    def at(column: str) -> Any:
        return cells.when(column, first.get(column), ctx.timezone, ctx.now)

    placed_at = at("受注日")
    if placed_at is None:
        raise cells.CellError("受注日: missing")
    lines = []
    for row_number, row in rows:
        try:
            line = _line(row)
        except cells.CellError as exc:
            raise cells.CellError(f"row {row_number}: {exc}") from None
        if line is not None:
            lines.append(line)
    paid_at = at("入金日") or (placed_at if status in (PAID, DELIVERED) else None)
    shipped_at = at("発送日") if status in (DELIVERED, RETURNED) else None
    if status == DELIVERED and shipped_at is None:
        shipped_at = paid_at or placed_at
    last = max(t for t in (placed_at, paid_at, shipped_at) if t is not None)
    shipping_address = _address(first, "配送先_")
    email = cells.text(first.get("メールアドレス"))
    customer = None
    if email:
        customer = {"email": email.lower(), "id": cells.text(first.get("会員ID")),
                    "last_name": cells.text(first.get("お名前(姓)")), "first_name": cells.text(first.get("お名前(名)")),
                    "phone": lenient(cells.text(first.get("TEL")), "JP"), "country": "JP", "locale": "ja"}
    order = {"number": cells.text(first.get("注文番号")), "currency": ctx.currency,
             "subtotal": cells.amount("小計", first.get("小計")), "shipping": cells.amount("送料", first.get("送料")),
             "tax": cells.amount("税金", first.get("税金")), "discount": cells.amount("値引き", first.get("値引き")),
             "total": cells.amount("支払合計", first.get("支払合計")) or cells.amount("合計", first.get("合計")),
             "lines": lines, "shipping_address": shipping_address, "billing_address": _address(first)}
    shipment = None
    if shipped_at is not None:
        shipment = {"tracking_number": cells.text(first.get("出荷伝票番号")),
                    "carrier": cells.text(first.get("配送業者(名称)"))}
    draft = OrderDraft(row=number, order_id=cells.required("注文ID", first.get("注文ID")), placed_at=placed_at,
                       order=order, customer=customer, paid_at=paid_at, shipped_at=shipped_at,
                       cancelled_at=last if status == CANCEL else None,
                       refunded_at=last if status == RETURNED else None, shipment=shipment,
                       raw={"file": ctx.file, "row": number, "rows": [kept(r) for _, r in rows]})
    return order_record(draft)


def orders(rows: Iterable[tuple[int, dict[str, str]]], ctx: Context) -> Iterator[Record | Rejected]:
    """Consecutive rows with the same 注文ID are one order."""
    yield from grouped_orders(iter(rows), "注文ID", "注文ID: missing (the order's id)",
                              lambda group: _order(group, ctx))

"""``afterorder report`` as an operator uses it, on the hand-built Tokyo history."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.processes import add_store_cli, cli
from tests.retention_history import PRODUCT_HISTORY, RETENTION_HISTORY


def test_report_retention_and_product_cycle_through_the_command(sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "kumo", country="JP", timezone="Asia/Tokyo", currency="JPY", locale="ja")
    history = tmp_path / "history.jsonl"
    history.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in RETENTION_HISTORY + PRODUCT_HISTORY))
    cli("events", "send", str(history), "--store", "kumo", database=sqlite_url)

    period = ("--store", "kumo", "--from", "2026-04-01", "--to", "2026-06-30")
    report = json.loads(cli("report", "retention", *period, "--by", "month", "--json", database=sqlite_url).stdout)
    # The retention history alone gives B = 5, E = 8, N = 4 (see tests/integration/test_retention.py); the
    # product history's customers pa, pb, pc all ordered in Jan–Mar 2026: 3 more at the start and at the end.
    assert report["retention"] == {"customers_at_start": 8, "customers_at_end": 11, "new_customers": 4,
                                   "crr": 87.5}
    assert [p["label"] for p in report["series"]["periods"]] == ["2026-04", "2026-05", "2026-06"]
    assert report["timezone"] == "Asia/Tokyo" and report["active_days"] == 365

    table = cli("report", "retention", *period, database=sqlite_url).stdout
    assert "CRR = (E − N) / B" in table and "87.50 %" in table and "2026-04" in table

    cycle_table = cli("report", "product-cycle", "--store", "kumo", database=sqlite_url).stdout
    # sencha: 5 intervals [30, 30, 30, 40, 20] → 30 days from the history (see tests/retention_history.py).
    sencha_row = next(line for line in cycle_table.splitlines() if "sencha" in line)
    assert [cell.strip() for cell in sencha_row.split("│")][3:7] == ["3", "5", "30", "history"]

    bad = cli("report", "retention", "--store", "kumo", "--from", "2026-04-31", "--to", "2026-06-30",
              database=sqlite_url, check=False)
    assert bad.returncode == 1 and "--from: '2026-04-31' is not a date" in bad.stderr

"""``afterorder predict`` as an operator uses it, on the CDNOW sample."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cdnow import BGNBD, GAMMA_GAMMA, order_events
from tests.e2e.processes import add_store_cli, cli


def test_predict_fit_as_of_prints_the_published_parameters_and_show_reads_a_customer(
        sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "cdnow", country="US", timezone="UTC", currency="USD")
    history = tmp_path / "cdnow.jsonl"  # the spine's order.placed events, one per line
    history.write_text("".join(json.dumps(e) + "\n" for e in order_events()))
    imported = cli("import", "orders", str(history), "--store", "cdnow", "--history", database=sqlite_url)
    assert "flows are not triggered" in imported.stderr
    runs = json.loads(cli("outbox", "list", "--store", "cdnow", "--json", database=sqlite_url).stdout)
    assert runs == []  # no confirmation mail for a 1997 order

    missing = cli("predict", "show", "c0001", "--store", "cdnow", database=sqlite_url, check=False)
    assert missing.returncode == 1 and "no fitted predictions yet" in missing.stderr

    backtest = json.loads(cli("predict", "fit", "--store", "cdnow", "--as-of", "1997-09-30", "--json",
                              database=sqlite_url).stdout)
    assert backtest["saved_predictions"] == 0 and backtest["customers"] == 2357
    for name, published in BGNBD.items():
        assert abs(backtest["bgnbd"][name] - published) <= 0.01 * abs(published), name
    for name, published in GAMMA_GAMMA.items():
        assert abs(backtest["gamma_gamma"][name] - published) <= 0.01 * abs(published), name

    now = json.loads(cli("predict", "fit", "--store", "cdnow", "--json", database=sqlite_url).stdout)
    assert now["saved_predictions"] == 2357 and now["bgnbd"]["r"] != backtest["bgnbd"]["r"]
    shown = json.loads(cli("predict", "show", "c0001", "--store", "cdnow", "--json", database=sqlite_url).stdout)
    assert shown["orders"] == 4 and shown["last_order"] == "1997-12-12"
    # Last seen in 1997: decades later this customer is all but certainly gone.
    assert shown["probability_alive"] < 0.05 and shown["predicted_next_order"] is None
    assert shown["expected_order_value"] > 0

    bad = cli("predict", "fit", "--store", "cdnow", "--as-of", "30/09/1997", database=sqlite_url, check=False)
    assert bad.returncode == 1 and "--as-of: '30/09/1997' is not a date" in bad.stderr

"""The ``afterorder`` command as an operator uses it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import T0
from tests.e2e.processes import add_store_cli, cli
from tests.factories import order_event


def test_store_add_prints_the_key_and_list_shows_the_store(database_url: str) -> None:
    created = add_store_cli(database_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    assert created["slug"] == "kumo" and created["api_key"].startswith("ao_") and created["currency"] == "JPY"
    listed = json.loads(cli("store", "list", "--json", database=database_url).stdout)
    assert [s["slug"] for s in listed] == ["kumo"] and "api_key" not in listed[0]


def test_store_add_explains_what_is_wrong(sqlite_url: str) -> None:
    result = cli("store", "add", "Bad Slug", "--name", "x", "--email-from", "nope", "--reply-to", "no-reply@x.example",
                 "--timezone", "Mars/Base", database=sqlite_url, check=False)
    assert result.returncode == 1
    for problem in ("slug:", "email_from: 'nope' is not an email address", "reply_to: customers must be able to answer",
                    "timezone: unknown time zone 'Mars/Base'"):
        assert problem in result.stderr


def test_events_send_stores_a_file_all_or_nothing(sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "kumo")
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(order_event("order.placed", f"F{i}", T0)) for i in range(3)) + "\n")
    assert json.loads(cli("events", "send", str(good), "--store", "kumo", database=sqlite_url).stdout) == {
        "stored": 3, "duplicate": 0, "runs_started": 3}
    bad = tmp_path / "bad.jsonl"
    broken = order_event("order.placed", "F9", T0)
    broken["order"]["total"] = "lots"
    bad.write_text(json.dumps(order_event("order.placed", "F8", T0)) + "\n" + json.dumps(broken) + "\n{oops\n")
    result = cli("events", "send", str(bad), "--store", "kumo", database=sqlite_url, check=False)
    assert result.returncode == 1 and "nothing was stored" in result.stderr
    assert f"{bad}:2: order.total" in result.stderr and f"{bad}:3: not JSON" in result.stderr
    again = json.loads(cli("events", "send", str(good), "--store", "kumo", database=sqlite_url).stdout)
    assert again == {"stored": 0, "duplicate": 3, "runs_started": 0}


def test_serve_refuses_a_bad_flow_file_with_its_line(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("id: mine\ntrigger: order.placed\nsteps:\n  - wait: 3 dayz\n")
    result = cli("serve", "--flows", str(tmp_path), "--smtp", "smtp://127.0.0.1:1", database=sqlite_url, check=False)
    assert result.returncode == 1
    assert f"{tmp_path / 'mine.yaml'}:4: steps[0].wait.duration: '3 dayz' is not a duration" in result.stderr


def test_flows_list_and_switching_one_off(sqlite_url: str) -> None:
    add_store_cli(sqlite_url, "kumo")
    flows = json.loads(cli("flows", "list", "--store", "kumo", "--json", database=sqlite_url).stdout)
    states = {f["id"]: f["state"] for f in flows}
    spine = {"order-confirmation", "shipping-confirmation", "out-for-delivery", "delivery-follow-up"}
    assert {k: v for k, v in states.items() if k in spine} == dict.fromkeys(spine, "on")
    assert {"how-to", "nps", "replenishment", "made-to-order"} <= set(states), "the library is listed"
    assert {v for k, v in states.items() if k not in spine} == {"off"}, "the library is off until switched on"
    assert {"welcome", "abandoned-cart", "win-back"} <= set(states)
    cli("flows", "disable", "delivery-follow-up", "--store", "kumo", database=sqlite_url)
    flows = json.loads(cli("flows", "list", "--store", "kumo", "--json", database=sqlite_url).stdout)
    assert {f["id"]: f["state"] for f in flows}["delivery-follow-up"] == "off"


def test_import_brings_history_in_once_and_sends_nothing(sqlite_url: str, tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "history"
    add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    rejects = tmp_path / "rejects.csv"
    result = cli("import", "orders", str(fixtures / "shopify_orders_export.csv"), "--store", "kumo",
                 "--rejects", str(rejects), database=sqlite_url)
    assert "history import: flows are not triggered" in result.stderr
    assert "4 orders read, 4 new" in result.stdout and "12 events stored as history" in result.stdout
    assert "order #1004: row 7: Lineitem price: 'abc' is not an amount" in result.stdout
    assert rejects.read_text(encoding="utf-8").splitlines() == [
        "row,reason",
        "6,order #1004: row 7: Lineitem price: 'abc' is not an amount",
        "8,order #1005: Created at: 'yesterday' is not a date and time (e.g. 2024-05-01 14:30:00 +0900)",
        "9,\"order #1006: Currency: 'XYZ' is not a known currency code (e.g. JPY, USD, EUR)\"",
        "10,\"Name: missing (the order's name, e.g. #1001)\"",
    ]
    again = json.loads(cli("import", "orders", str(fixtures / "shopify_orders_export.csv"), "--store", "kumo",
                           "--json", database=sqlite_url).stdout)
    assert {k: again[k] for k in ("records", "new", "unchanged", "events_stored", "events_duplicate", "rejected",
                                  "historical", "flows_triggered")} == {
        "records": 4, "new": 0, "unchanged": 4, "events_stored": 0, "events_duplicate": 12, "rejected": 4,
        "historical": True, "flows_triggered": False}
    assert json.loads(cli("outbox", "list", "--json", database=sqlite_url).stdout) == []


def test_import_refuses_what_it_cannot_read(sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "kumo")
    typo = tmp_path / "orders.csv"
    typo.write_text("order_id,placed_at,totl\n1,2024-05-01,10\n", encoding="utf-8")
    result = cli("import", "orders", str(typo), "--store", "kumo", database=sqlite_url, check=False)
    assert result.returncode == 1 and "unknown column(s) 'totl'" in result.stderr
    assert "Traceback" not in result.stderr
    for args, problem in ((["orders", str(typo), "--store", "nope"], "no store called 'nope'"),
                          (["refunds", str(typo), "--store", "kumo"], "customers, orders or products"),
                          (["orders", str(tmp_path / "missing.csv"), "--store", "kumo"], "cannot read")):
        result = cli("import", *args, database=sqlite_url, check=False)
        assert result.returncode == 1 and problem in result.stderr and "Traceback" not in result.stderr

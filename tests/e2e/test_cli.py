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
    assert {f["id"]: f["state"] for f in flows} == {"order-confirmation": "on", "shipping-confirmation": "on",
                                                   "delivery-follow-up": "on"}
    cli("flows", "disable", "delivery-follow-up", "--store", "kumo", database=sqlite_url)
    flows = json.loads(cli("flows", "list", "--store", "kumo", "--json", database=sqlite_url).stdout)
    assert {f["id"]: f["state"] for f in flows}["delivery-follow-up"] == "off"

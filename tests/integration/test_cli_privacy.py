"""``afterorder store esp|tracking``, ``suppression`` and ``customer export|erase`` as an operator uses them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from afterorder.cli.main import build_app
from tests.conftest import T0
from tests.esp_signing import fixture
from tests.factories import order_event


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, database: str, check: bool = True) -> Ran:
    """The command run in this process (the commands here are short; a subprocess each costs seconds)."""
    result = CliRunner().invoke(build_app(), list(args), env={"AFTERORDER_DATABASE_URL": database})
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"afterorder {' '.join(args)} failed ({ran.returncode}):\n{ran.stderr}{result.exception}")
    return ran


def add_store_cli(database: str, slug: str) -> dict[str, Any]:
    return dict(json.loads(cli("store", "add", slug, "--name", "Kumo", "--email-from", "shop@kumo.example",
                               database=database).stdout))


def test_webhook_credentials_tracking_settings_suppression_and_data_rights(sqlite_url: str, tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "kumo")
    bad = cli("store", "esp", "kumo", "sendgrid", "--public-key", "not-a-key", database=sqlite_url, check=False)
    assert bad.returncode == 1 and "public_key: not a base64 DER public key" in bad.stderr
    key = fixture("sendgrid_signed_vector.json")["public_key"]
    set_up = json.loads(cli("store", "esp", "kumo", "sendgrid", "--public-key", key, "--base-url",
                            "https://ao.example", database=sqlite_url).stdout)
    assert set_up["webhook_url"] == "https://ao.example/webhooks/esp/sendgrid/kumo"
    tracking = json.loads(cli("store", "tracking", "kumo", "--attribution-days", "7", "--domain", "www.kumo.example",
                              database=sqlite_url).stdout)
    assert tracking["attribution_days"] == 7 and tracking["domains"] == ["kumo.example"]

    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(order_event("order.placed", "C1", T0, email="leaving@example.com")) + "\n")
    cli("events", "send", str(events), "--store", "kumo", database=sqlite_url)
    cli("suppression", "add", "Leaving@Example.com", "--store", "kumo", "--reason", "unsubscribe",
        database=sqlite_url)
    exported = json.loads(cli("customer", "export", "cust-C1", "--store", "kumo", database=sqlite_url).stdout)
    assert exported["customer"]["email"] == "leaving@example.com" and exported["orders"][0]["external_id"] == "C1"
    assert [s["reason"] for s in exported["suppressions"]] == ["unsubscribe"]

    erased = json.loads(cli("customer", "erase", "cust-C1", "--store", "kumo", "--yes", database=sqlite_url).stdout)
    assert erased["erased"]["customers"] == 1 and erased["erased"]["suppressions"] == 1
    [row] = json.loads(cli("suppression", "list", "--store", "kumo", "--json", database=sqlite_url).stdout)
    assert row["address"] is None and row["reason"] == "unsubscribe" and len(row["address_hash"]) == 64
    missing = cli("customer", "export", "nobody", "--store", "kumo", database=sqlite_url, check=False)
    assert missing.returncode == 1 and "no customer with id 'nobody'" in missing.stderr

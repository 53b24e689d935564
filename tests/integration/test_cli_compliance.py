"""``afterorder store set`` / ``store dkim`` / ``consent history``, run in-process (typer's runner)
against a real SQLite file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from afterorder.cli.main import build_app
from tests.conftest import T0
from tests.factories import order_event


def run(*args: str, database: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(build_app(), [*args, "--database", database])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def test_compliance_commands(sqlite_url: str, tmp_path: Path) -> None:
    run("store", "add", "kumo", "--name", "雲茶舗", "--email-from", "shop@kumo.example", "--country", "JP",
        database=sqlite_url)
    out, _ = run("store", "set", "kumo", "--marketing-rule", "soft-opt-in", "--china-ad-prefix",
                 "--quiet-hours", "21:00-08:00", "--cap", "email:3/168", database=sqlite_url)
    assert json.loads(out) == {"marketing_rule": "soft-opt-in", "china_ad_prefix": True, "double_opt_in": False,
                               "quiet_hours": "21:00-08:00",
                               "caps": {"email": {"max_messages": 3, "window_hours": 168}}, "dkim": None}
    _, err = run("store", "set", "kumo", "--marketing-rule", "maybe", database=sqlite_url, code=1)
    assert "'maybe' is not one of opt-in, soft-opt-in, opt-out" in err
    _, err = run("store", "set", "nowhere", "--double-opt-in", database=sqlite_url, code=1)
    assert "no store called 'nowhere'" in err

    out, _ = run("store", "dkim", "kumo", "--selector", "ao2026", "--domain", "kumo.example", database=sqlite_url)
    assert re.search(r'^ao2026\._domainkey\.kumo\.example\. IN TXT \( "v=DKIM1; k=rsa; p=', out, re.MULTILINE)
    assert len(re.search(r"^value: v=DKIM1; k=rsa; p=(\S+)$", out, re.MULTILINE).group(1)) == 392  # RSA 2048 SPKI
    out, _ = run("store", "set", "kumo", database=sqlite_url)
    assert json.loads(out)["dkim"] == {"selector": "ao2026", "domain": "kumo.example"}
    _, err = run("store", "dkim", "kumo", "--selector", "bad_selector!", "--domain", "kumo.example",
                 database=sqlite_url, code=1)
    assert "selector: 'bad_selector!' is not a DNS label" in err

    event = order_event("order.placed", "H1", T0)
    event["customer"]["accepts_marketing"] = True
    event["properties"] = {"consent_wording": "ニュースを受け取る"}
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps(event) + "\n")
    run("events", "send", str(events), "--store", "kumo", database=sqlite_url)
    out, _ = run("consent", "history", "cust-H1", "--store", "kumo", database=sqlite_url)
    [change] = [json.loads(line) for line in out.splitlines()]
    assert change["status"] == "granted" and change["method"] == "import" and change["wording"] == "ニュースを受け取る"
    _, err = run("consent", "history", "nobody", "--store", "kumo", database=sqlite_url, code=1)
    assert "no customer 'nobody'" in err

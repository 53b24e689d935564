"""``afterorder channels`` as an operator uses it: setting providers up, the order of channels, a
test message, key rotation — and secrets sealed in the database, never printed.

Most commands run in this process (typer's runner: a subprocess each costs a second or two); the
test that secrets never show runs the real command as its own process, as an operator would.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.db.database import open_engine
from afterorder.db.schema import store_channels
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.keys.sealing import KEY_FILE, Sealer, new_key
from tests.e2e.processes import AFTERORDER

PASSWORD = "pw-Zq81-very-secret"
SMTP_WITH_PASSWORD = f"smtp://shop%40kumo.example:{PASSWORD}@127.0.0.1:2525?starttls=1"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, database: str, key: str | None, check: bool = True) -> Ran:
    """The command run in this process, with ``key`` as AFTERORDER_SECRET_KEY (None: not set)."""
    result = CliRunner().invoke(build_app(), list(args), env={"AFTERORDER_DATABASE_URL": database,
                                                      "AFTERORDER_SECRET_KEY": key, "AFTERORDER_CONFIG": None})
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"afterorder {' '.join(args)} failed ({ran.returncode}):\n{ran.stderr}{result.exception}")
    assert "Traceback" not in ran.stdout + ran.stderr
    return ran


def add_store_cli(database: str, slug: str, key: str | None = None) -> None:
    """The store, its link signing key sealed with ``key`` (None: the key file beside the database)."""
    cli("store", "add", slug, "--name", "雲茶舗", "--email-from", f"shop@{slug}.example", "--locale", "ja",
        database=database, key=key)


def listed(database: str, key: str | None) -> dict[str, Any]:
    return dict(json.loads(cli("channels", "list", "kumo", "--json", database=database, key=key).stdout))


def stored_rows(database: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = open_engine(database)
        try:
            async with engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(select(store_channels))).mappings()]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_set_list_order_and_remove_with_the_secret_sealed(database_url: str) -> None:
    key = new_key()
    add_store_cli(database_url, "kumo")
    shown = json.loads(cli("channels", "set", "kumo", "smtp", "--url", SMTP_WITH_PASSWORD, "--rate", "12",
                           "--api-base", "http://127.0.0.1:9", database=database_url, key=key).stdout)
    assert shown["options"] == {"api_base": "http://127.0.0.1:9", "url": "********"}
    assert (shown["channel"], shown["role"], shown["provider"], shown["rate"]) == ("email", "primary", "smtp", 12.0)
    [row] = stored_rows(database_url)
    assert row["settings"] == {"api_base": "http://127.0.0.1:9"} and PASSWORD not in row["secrets"]
    assert Sealer([key]).open(row["secrets"]) == {"url": SMTP_WITH_PASSWORD}, "the row holds the sealed token"

    again = cli("channels", "set", "kumo", "smtp", "--role", "backup", "--url", "smtp://127.0.0.1:2526",
                database=database_url, key=key)
    assert json.loads(again.stdout)["role"] == "backup"
    cli("channels", "order", "kumo", "line", "email", database=database_url, key=key)
    cli("channels", "line-notifications", "kumo", "on", database=database_url, key=key)
    cli("channels", "amp", "kumo", "off", database=database_url, key=key)
    cli("channels", "sms-help", "kumo", "Kumo: help at kumo.example/help. Reply STOP to opt out.",
        database=database_url, key=key)
    found = listed(database_url, key)
    assert [(p["role"], p["provider"], p["problem"]) for p in found["providers"]] == [
        ("backup", "smtp", None), ("primary", "smtp", None)]
    assert found["order"] == ["line", "email"] and found["line_notifications"] is True
    assert found["sms_help"].startswith("Kumo: help") and found["amp_email"] is False
    table = cli("channels", "list", "kumo", database=database_url, key=key).stdout
    assert "url=********" in table and "order: line, email" in table
    assert "AMP for Email in the shipping mails: off" in table

    removed = cli("channels", "remove", "kumo", "email", "--role", "backup", database=database_url, key=key)
    assert "backup provider for email is removed" in removed.stdout
    gone = cli("channels", "remove", "kumo", "email", "--role", "backup", database=database_url, key=key, check=False)
    assert gone.returncode == 1 and "kumo has no backup provider for email" in gone.stderr
    assert [p["role"] for p in listed(database_url, key)["providers"]] == ["primary"]


def test_wrong_options_are_named_and_nothing_is_stored(database_url: str) -> None:
    key = new_key()
    add_store_cli(database_url, "kumo")
    attempts = [
        (["smtp", "--urll", SMTP_WITH_PASSWORD], ["--urll: not an option of smtp", "--url: required"]),
        (["smtp"], ["--url: required", "smtp options: --url (required, secret)"]),
        (["smtp", "--url", "ftp://mail.example"], ["--url: SMTP URL must start with smtp:// or smtps://"]),
        (["smtp", "--url", "smtp://127.0.0.1:25", "--rate", "0"], ["--rate: must be more than 0"]),
        (["smtp", "--url", "smtp://127.0.0.1:25", "--rate", "250000"], ["--rate: must be more than 0 and at most"]),
        (["smtp", "--url", "smtp://127.0.0.1:25", "--role", "spare"], ["--role: must be primary or backup"]),
        (["fax", "--number", "1"], ["unknown provider 'fax'; providers: smtp"]),
        (["email", "--url", "smtp://127.0.0.1:25"], ["unknown provider 'email'; email is a channel; its providers:"]),
    ]
    for words, problems in attempts:
        ran = cli("channels", "set", "kumo", *words, database=database_url, key=key, check=False)
        assert ran.returncode == 2, (words, ran.stderr)
        for problem in problems:
            assert problem in ran.stderr, (problem, ran.stderr)
        assert PASSWORD not in ran.stdout + ran.stderr
    for words, problem in ((["remove", "kumo", "fax"], "channel: unknown channel 'fax'; channels: email, line, sms"),
                           (["order", "kumo", "line", "fax"], "order: unknown channel 'fax'"),
                           (["order", "kumo", "email", "email"], "order: a channel is named twice"),
                           (["line-notifications", "kumo", "maybe"], "say on or off"),
                           (["amp", "kumo", "maybe"], "say on or off"),
                           (["sms-help", "kumo", "x" * 481], "sms_help: at most 480 characters")):
        ran = cli("channels", *words, database=database_url, key=key, check=False)
        assert ran.returncode == 2 and problem in ran.stderr, (words, ran.stderr)
    assert stored_rows(database_url) == []
    assert listed(database_url, key) | {"providers": None} == {
        "store": "kumo", "providers": None, "order": ["email"], "line_notifications": False,
        "line_paused_until": None, "sms_help": "", "amp_email": True}
    missing = cli("channels", "set", "nowhere", "smtp", "--url", "smtp://127.0.0.1:25", database=database_url,
                  key=key, check=False)
    assert missing.returncode == 1 and "no store called 'nowhere'" in missing.stderr


async def test_a_test_message_goes_through_the_stored_setup(database_url: str, smtp_server: DevSmtpServer) -> None:
    key = new_key()
    await asyncio.to_thread(add_store_cli, database_url, "kumo")

    def run(*args: str, check: bool = True) -> Ran:  # on a thread: the SMTP server answers in this loop
        return cli(*args, database=database_url, key=key, check=check)

    await asyncio.to_thread(run, "channels", "set", "kumo", "smtp", "--url", smtp_server.url)
    sent = json.loads((await asyncio.to_thread(run, "channels", "test", "kumo", "smtp", "--to",
                                               "hana@example.jp")).stdout)
    assert sent["outcome"] == "sent" and sent["code"] == 250 and "queued as" in sent["detail"]
    [mail] = await smtp_server.inbox.wait_for(1, timeout=10)
    assert mail.recipients == ("hana@example.jp",) and "雲茶舗" in mail.subject and "smtp" in mail.subject
    assert mail.message_id and mail.message_id.startswith("<ao.test.")

    await asyncio.to_thread(run, "channels", "set", "kumo", "smtp", "--url",
                            smtp_server.url.replace("smtp://", f"smtp://shop:{PASSWORD}@"))
    refused = await asyncio.to_thread(run, "channels", "test", "kumo", "smtp", "--to", "hana@example.jp", check=False)
    answer = json.loads(refused.stdout)
    assert refused.returncode == 1 and answer["outcome"] == "temporary" and "AUTH" in answer["detail"]
    assert PASSWORD not in refused.stdout + refused.stderr
    wrong = await asyncio.to_thread(run, "channels", "test", "kumo", "smtp", "--to", "hana", check=False)
    assert wrong.returncode == 2 and "--to: email needs an email address" in wrong.stderr
    absent = await asyncio.to_thread(run, "channels", "test", "kumo", "smtp", "--to", "a@b.example", "--role",
                                     "backup", check=False)
    assert absent.returncode == 1 and "kumo has no smtp set up as backup" in absent.stderr
    assert smtp_server.inbox.count() == 1


def test_rotating_the_key_and_resealing(database_url: str) -> None:
    old, new = new_key(), new_key()
    add_store_cli(database_url, "kumo", old)
    cli("channels", "set", "kumo", "smtp", "--url", SMTP_WITH_PASSWORD, database=database_url, key=old)
    [before] = stored_rows(database_url)

    rotated = f"{new},{old}"
    assert [p["problem"] for p in listed(database_url, rotated)["providers"]] == [None], "the old key still opens"
    [unopened] = listed(database_url, new)["providers"]
    assert "cannot be opened with the configured secret key" in unopened["problem"]
    assert unopened["options"] == {"url": "********"}, "a setup that cannot be opened still shows what it holds"

    resealed = cli("channels", "reseal", database=database_url, key=rotated)
    assert "1 provider setup(s) with the first key" in resealed.stdout
    [after] = stored_rows(database_url)
    assert after["secrets"] != before["secrets"] and after["updated_at"] == before["updated_at"]
    assert [p["problem"] for p in listed(database_url, new)["providers"]] == [None], "the new key alone opens"
    assert Sealer([new]).open(after["secrets"]) == {"url": SMTP_WITH_PASSWORD}

    stale = cli("channels", "reseal", database=database_url, key=f"{new_key()},{old}", check=False)
    assert stale.returncode == 1 and "nothing was re-sealed: kumo link signing key, kumo smtp credentials (email, " \
        "primary)" in stale.stderr
    assert stored_rows(database_url)[0]["secrets"] == after["secrets"]
    wrong = cli("channels", "test", "kumo", "smtp", "--to", "a@b.example", database=database_url, key=old, check=False)
    assert wrong.returncode == 1 and "cannot be opened with the configured secret key" in wrong.stderr
    broken = cli("channels", "list", "kumo", database=database_url, key="not-a-fernet-key", check=False)
    assert broken.returncode == 1 and "is not a Fernet key" in broken.stderr and "not-a-fernet-key" not in broken.stderr


def test_without_a_configured_key_the_key_file_beside_the_database_is_used(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/afterorder.db"
    add_store_cli(database, "kumo")
    cli("channels", "set", "kumo", "smtp", "--url", SMTP_WITH_PASSWORD, database=database, key=None)
    assert (tmp_path / KEY_FILE).is_file()
    assert [p["problem"] for p in listed(database, None)["providers"]] == [None]
    opened = Sealer.from_setting((tmp_path / KEY_FILE).read_text()).open(stored_rows(database)[0]["secrets"])
    assert opened == {"url": SMTP_WITH_PASSWORD}


def test_new_key_prints_a_usable_key() -> None:
    key = cli("channels", "new-key", database="sqlite:///unused.db", key=None).stdout.strip()
    assert Sealer([key]).open(Sealer([key]).seal({"a": "b"})) == {"a": "b"}


def test_secrets_are_never_printed_by_the_real_command(database_url: str) -> None:
    """Run as its own process: everything the command writes, on stdout and stderr, is looked at."""
    key = new_key()
    add_store_cli(database_url, "kumo")
    env = {**os.environ, "AFTERORDER_DATABASE_URL": database_url, "AFTERORDER_SECRET_KEY": key}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*AFTERORDER, "channels", *args], capture_output=True, text=True, env=env, timeout=120)

    runs = [run("set", "kumo", "smtp", "--url", SMTP_WITH_PASSWORD), run("list", "kumo"),
            run("set", "kumo", "smtp", "--url", SMTP_WITH_PASSWORD, "--rate", "-3"),
            run("set", "kumo", "smtp", "--url", SMTP_WITH_PASSWORD.replace("smtp://", "smtpx://"))]
    assert [r.returncode for r in runs] == [0, 0, 2, 2]
    for ran in runs:
        assert PASSWORD not in ran.stdout and PASSWORD not in ran.stderr and key not in ran.stdout + ran.stderr
    assert "url=********" in runs[1].stdout
    [row] = stored_rows(database_url)
    assert PASSWORD not in json.dumps(row, default=str)
    assert Sealer([key]).open(row["secrets"]) == {"url": SMTP_WITH_PASSWORD}


def test_the_key_in_afterorder_toml_seals_and_is_never_shown_in_help(tmp_path: Path) -> None:
    key = new_key()
    (tmp_path / "afterorder.toml").write_text(f'database = "sqlite:///./shop.db"\nsecret_key = "{key}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERORDER_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*AFTERORDER, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)

    assert run("store", "add", "kumo", "--name", "雲茶舗", "--email-from", "shop@kumo.example").returncode == 0
    assert run("channels", "set", "kumo", "smtp", "--url", SMTP_WITH_PASSWORD).returncode == 0
    assert not (tmp_path / KEY_FILE).exists(), "the configured key is used, no key file is made"
    assert Sealer([key]).open(stored_rows(f"sqlite:///{tmp_path}/shop.db")[0]["secrets"]) == {
        "url": SMTP_WITH_PASSWORD}
    helped = run("channels", "set", "--help")
    assert helped.returncode == 0 and "--secret-key" in helped.stdout and key not in helped.stdout

"""Secrets at rest (issue 21 item 4): a store set up with every kind of secret through the CLI —
platform webhook secrets (Shopify, WooCommerce, Saleor, and a previous one kept during a rotation),
provider credentials (SES, SendGrid, Postmark, LINE, Twilio, Alibaba Cloud), a DKIM key, Mailgun's
signing key, and each store's own key for its links (unsubscribe, order page, surveys) — leaves none
of them in the database file (nor their base64), prints none, and
``secrets reseal`` after a key rotation re-seals them all, or nothing when a key is missing.

The commands run in this process (typer's runner), as in tests/e2e/test_channels_cli.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.db.database import open_engine
from afterorder.db.schema import metadata, store_compliance, stores
from afterorder.keys.sealing import Sealer, new_key
from afterorder.keys.stored import SEALED, open_value

SALEOR_API = "https://saleor.example.com/graphql/"
# every secret, by what it is: the values are distinctive so a leak anywhere is found
SECRETS = {
    "shopify": "shpss_Kumo-webhook-3f9a0c1d77e2",
    "shopify_previous": "shpss_Kumo-old-webhook-51be09aa",
    "woocommerce": "wc-Kumo-webhook-secret-8c1e44f0",
    "saleor": "saleor-Kumo-hmac-secret-0b7d2e19",
    "ses_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYKumoKEY01",
    "ses_session_token": "FwoGZXIvYXdzEKumoSessionToken0123456789",
    "sendgrid_api_key": "SG.Kumo-sendgrid.api-key-2d3f4a5b6c7d8e9f",
    "postmark_server_token": "pm-Kumo-server-token-7a1c2b3d4e5f",
    "line_channel_access_token": "LINE-Kumo-access-token-9f8e7d6c5b4a",
    "line_channel_secret": "line-Kumo-channel-secret-e3d2c1b0",
    "twilio_auth_token": "twilio-Kumo-auth-token-5e4d3c2b1a09",
    "aliyun_access_key_secret": "aliyun-Kumo-key-secret-abcdef012345",
    "mailgun_signing_key": "key-Kumo-mailgun-signing-0f1e2d3c4b5a",
}


def cli(*args: str, database: str, key: str | None, check: bool = True) -> tuple[int, str]:
    """The command run in this process; (exit code, stdout + stderr)."""
    result = CliRunner().invoke(build_app(), list(args), env={"AFTERORDER_DATABASE_URL": database,
                                                      "AFTERORDER_SECRET_KEY": key, "AFTERORDER_CONFIG": None})
    said = result.stdout + result.stderr
    if check and result.exit_code != 0:
        raise AssertionError(f"afterorder {' '.join(args)} failed ({result.exit_code}):\n{said}{result.exception}")
    assert "Traceback" not in said
    return result.exit_code, said


def set_up_everything(database: str, key: str) -> str:
    """Two stores holding every kind of secret, through the CLI; everything the commands printed."""
    said = []

    def run(*args: str) -> None:
        said.append(cli(*args, database=database, key=key)[1])

    for slug in ("kumo", "harbor"):
        run("store", "add", slug, "--name", "雲茶舗", "--email-from", f"shop@{slug}.example", "--locale", "ja")
    run("store", "connect", "kumo", "shopify", "--secret", SECRETS["shopify_previous"])
    run("store", "connect", "kumo", "shopify", "--secret", SECRETS["shopify"], "--keep-previous")
    run("store", "connect", "kumo", "woocommerce", "--secret", SECRETS["woocommerce"])
    run("store", "connect", "kumo", "saleor", "--secret", SECRETS["saleor"], "--api-url", SALEOR_API)
    run("channels", "set", "kumo", "ses", "--region", "ap-northeast-1", "--access-key-id", "AKIAKUMOEXAMPLE",
        "--secret-access-key", SECRETS["ses_secret_access_key"], "--session-token", SECRETS["ses_session_token"])
    run("channels", "set", "kumo", "sendgrid", "--role", "backup", "--api-key", SECRETS["sendgrid_api_key"])
    run("channels", "set", "harbor", "postmark", "--server-token", SECRETS["postmark_server_token"])
    run("channels", "set", "kumo", "line", "--channel-access-token", SECRETS["line_channel_access_token"],
        "--channel-secret", SECRETS["line_channel_secret"])
    run("channels", "set", "kumo", "twilio", "--account-sid", "AC0123456789abcdef0123456789abcdef",
        "--auth-token", SECRETS["twilio_auth_token"], "--from", "+15005550006")
    run("channels", "set", "kumo", "aliyun_sms", "--role", "backup", "--access-key-id", "LTAI5tKumoExample",
        "--access-key-secret", SECRETS["aliyun_access_key_secret"], "--sign-name", "雲茶舗",
        "--templates", "order_confirmation=SMS_123456789")
    run("store", "dkim", "kumo", "--selector", "ao2026", "--domain", "kumo.example")
    run("store", "esp", "kumo", "mailgun", "--signing-key", SECRETS["mailgun_signing_key"])
    return "\n".join(said)


def dkim_pem(database: str, key: str) -> str:
    async def read() -> str:
        engine = open_engine(database)
        try:
            async with engine.connect() as conn:
                stored = (await conn.execute(select(store_compliance.c.dkim_private_key))).scalar_one()
        finally:
            await engine.dispose()
        assert stored.startswith(SEALED)
        return open_value(Sealer.from_setting(key), stored) or ""

    return asyncio.run(read())


def link_keys(database: str, key: str) -> list[str]:
    """The stores' link signing keys in clear (opened here: the database holds them sealed)."""
    async def read() -> list[str]:
        engine = open_engine(database)
        try:
            async with engine.connect() as conn:
                stored = [v for (v,) in await conn.execute(select(stores.c.signing_key))]
        finally:
            await engine.dispose()
        assert stored and all(v.startswith(SEALED) for v in stored)
        return [open_value(Sealer.from_setting(key), v) or "" for v in stored]

    return asyncio.run(read())


def raw_database(database: str) -> bytes:
    """Every byte the database holds: the SQLite file (and its WAL), or PostgreSQL's tables as text."""
    url = make_url(database)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())

    async def dump() -> bytes:
        engine = open_engine(database)
        try:
            async with engine.connect() as conn:
                rows = [r[0] for table in metadata.sorted_tables
                        for r in await conn.execute(text(f'SELECT t::text FROM "{table.name}" t'))]
        finally:
            await engine.dispose()
        return "\n".join(rows).encode()

    return asyncio.run(dump())


def forms(secret: str) -> Iterator[bytes]:
    """A secret as it would show if stored in clear: itself, its UTF-8, its base64 (both alphabets)."""
    raw = secret.encode()
    yield raw
    yield base64.b64encode(raw)
    yield base64.urlsafe_b64encode(raw)
    yield base64.b64encode(raw).rstrip(b"=")


def pem_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM key (what a plain-stored key would show)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def assert_nothing_shows(haystack: bytes | str, secrets: list[str], where: str) -> None:
    data = haystack if isinstance(haystack, bytes) else haystack.encode()
    for secret in secrets:
        for form in forms(secret):
            assert form not in data, f"a secret ({secret[:6]}…) shows in {where}"


def test_the_database_holds_no_credential_in_plain_text(database_url: str) -> None:
    key = new_key()
    printed = set_up_everything(database_url, key)
    pem = dkim_pem(database_url, key)
    links = link_keys(database_url, key)
    every = [*SECRETS.values(), *pem_lines(pem), *links]
    assert len(pem_lines(pem)) > 10 and len(links) == 2 and all(len(k) == 64 for k in links)

    assert_nothing_shows(raw_database(database_url), every, "the database")
    assert_nothing_shows(printed, every, "what the commands printed")

    _, shown = cli("store", "show", "kumo", database=database_url, key=key)
    assert_nothing_shows(shown, every, "store show")
    store = json.loads(shown)
    assert {c["platform"]: (c["secret"], c["previous_secret"], c["problem"]) for c in store["connections"]} == {
        "saleor": ("********", None, None), "shopify": ("********", "********", None),
        "woocommerce": ("********", None, None)}
    assert store["dkim"] == {"selector": "ao2026", "domain": "kumo.example", "private_key": "********",
                             "problem": None}
    assert [e["settings"] for e in store["esp_webhooks"]] == [{"signing_key": "********"}]
    assert {(p["provider"], p["role"]) for p in store["channels"]["providers"]} == {
        ("ses", "primary"), ("sendgrid", "backup"), ("line", "primary"), ("twilio", "primary"),
        ("aliyun_sms", "backup")}
    assert "signing_key" not in store["store"]


def test_a_key_rotation_reseals_every_secret_or_nothing(database_url: str) -> None:
    old, new = new_key(), new_key()
    set_up_everything(database_url, old)
    before = raw_database(database_url)
    links_before = link_keys(database_url, old)

    code, said = cli("secrets", "reseal", database=database_url, key=f"{new_key()},{new}", check=False)
    assert code == 1, said
    for named in ("kumo shopify webhook secret", "kumo shopify previous webhook secret", "kumo DKIM private key",
                  "kumo mailgun signing_key", "kumo link signing key", "harbor link signing key",
                  "kumo ses credentials (email, primary)",
                  "harbor postmark credentials (email, primary)"):
        assert named in said
    assert "nothing was re-sealed" in said and "add the key they were sealed with after the new one" in said
    _, shown = cli("store", "show", "kumo", database=database_url, key=new)
    assert all("cannot be opened with the configured secret key" in c["problem"]
               for c in json.loads(shown)["connections"]), "a wrong key is named per item, not a traceback"

    _, said = cli("secrets", "reseal", database=database_url, key=f"{new},{old}")
    assert "re-sealed 8 stored secret(s) and 6 provider setup(s) with the first key, sealed 0" in said
    assert raw_database(database_url) != before
    _, checked = cli("secrets", "check", database=database_url, key=new)
    assert "every stored secret opens" in checked
    code, said = cli("secrets", "check", database=database_url, key=old, check=False)
    assert code == 1 and "kumo saleor webhook secret" in said and "cannot be opened" in said
    links = link_keys(database_url, new)
    assert links == links_before, "the same link keys, sealed anew: links already sent keep working"
    assert_nothing_shows(raw_database(database_url), [*SECRETS.values(), *links], "the database after the rotation")
    pem = dkim_pem(database_url, new)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_connecting_with_a_key_that_is_no_fernet_key_names_the_fix(sqlite_url: str) -> None:
    cli("store", "add", "kumo", "--name", "雲茶舗", "--email-from", "shop@kumo.example", database=sqlite_url, key=None)
    code, said = cli("store", "connect", "kumo", "shopify", "--secret", SECRETS["shopify"], database=sqlite_url,
                     key="not-a-key", check=False)
    assert code == 1 and "is not a Fernet key" in said and "new-key" in said
    assert SECRETS["shopify"] not in said and "not-a-key" not in said

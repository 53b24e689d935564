"""Sealed secrets in use (issue 21 item 4), on SQLite and PostgreSQL: platform webhooks verify from a
row an older version stored in plain text, from the same row once sealed at start, and after a key
rotation and ``reseal``; a key that cannot open the secret is answered 503 naming what to do; the
admin API never answers a secret; mail is DKIM-signed with a sealed key, and waits (unsigned mail is
never sent) when the key cannot open it.  No secret reaches the logs (afterorder's at every level,
the libraries' from INFO: aiosqlite's DEBUG lines hold every statement's parameters, as they come)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import dkim
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from afterorder.channels.smtp import SmtpChannel
from afterorder.clock import FrozenClock
from afterorder.compliance import dkim as store_dkim
from afterorder.compliance import tokens
from afterorder.db.schema import (
    customers,
    delivery_attempts,
    esp_credentials,
    flow_runs,
    outbox,
    platform_connections,
    store_compliance,
    stores,
)
from afterorder.db.sealed_secrets import reseal_everything, unreadable_secrets
from afterorder.delivery.worker import Delivery, DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.keys.sealing import Sealer, new_key
from afterorder.keys.stored import SEALED, DkimKey, seal_value
from afterorder.runtime import Runtime
from afterorder.signing import Signer, new_signing_key
from tests.compliance_helpers import configure, ingest, marketing_flows, received
from tests.conftest import T0
from tests.factories import add_store, order_event, running
from tests.loopback import loopback
from tests.platforms import sample, shopify_headers, woocommerce_headers

SHOPIFY = "shpss_plain-from-an-older-version-4d1c"
WOO = "wc-plain-from-an-older-version-9e2a"
MAILGUN = "key-plain-mailgun-signing-0a1b2c3d4e5f"
ORDER = sample("shopify", "orders_create.sample.json")


@asynccontextmanager
async def served(database_url: str, key: str, **settings: Any) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with running(database_url, FrozenClock(T0), secret_key=key, **settings) as runtime, \
            httpx.AsyncClient(timeout=10) as http, loopback(create(runtime, http)) as url:
        http.base_url = httpx.URL(url)
        yield runtime, http


def create(runtime: Runtime, http: httpx.AsyncClient) -> Any:
    from afterorder.web.app import create_app

    return create_app(runtime, webhook_http=http)


async def shopify(http: httpx.AsyncClient, secret: str, webhook_id: str) -> httpx.Response:
    return await http.post("/webhooks/shopify/kumo", content=ORDER,
                           headers=shopify_headers(ORDER, secret, "orders/create", webhook_id))


async def woocommerce(http: httpx.AsyncClient, secret: str, delivery: str) -> httpx.Response:
    body = sample("woocommerce", "order_created.v3_example.json")
    return await http.post("/webhooks/woocommerce/kumo", content=body,
                           headers=woocommerce_headers(body, secret, "order.created", delivery))


def logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="afterorder")


async def stored_secrets(runtime: Runtime) -> list[str]:
    async with runtime.engine.connect() as conn:
        pairs = await conn.execute(select(platform_connections.c.secret, platform_connections.c.previous_secret))
        found = [v for r in pairs for v in r if v is not None]
        found += [r.settings["signing_key"] for r in await conn.execute(select(esp_credentials.c.settings))]
        found += [r.dkim_private_key for r in await conn.execute(select(store_compliance.c.dkim_private_key))]
    return found


async def signing_key(runtime: Runtime) -> str:
    async with runtime.engine.connect() as conn:
        return str((await conn.execute(select(stores.c.signing_key))).scalar_one())


async def test_links_sent_before_the_signing_key_was_sealed_keep_working(database_url: str) -> None:
    """An older version stored the store's link key in plain text: sealed at start, re-sealed after a
    rotation, the links it signed still open the customer's pages; a key that cannot open it is a 503."""
    old, new = new_key(), new_key()
    plain = new_signing_key()
    async with served(database_url, old) as (runtime, http):
        store, _ = await add_store(runtime)
        assert (await signing_key(runtime)).startswith(SEALED), "a new store's key is sealed from the start"
        async with runtime.engine.begin() as conn:  # as an older version stored it
            await conn.execute(stores.update().values(signing_key=plain))
        await ingest(runtime, store, order_event("order.placed", "S1", T0))
        async with runtime.engine.connect() as conn:
            customer = (await conn.execute(select(customers.c.id))).scalar_one()
        sent = Signer(plain)  # the links mailed before the upgrade
        links = [f"/u/kumo/{tokens.unsubscribe_token(sent, tokens.MessageRef(customer))}",
                 f"/preferences/kumo/{tokens.preferences_token(sent, customer)}"]
        for link in links:
            assert (await http.get(link)).status_code == 200, "a plain key is used as it is"

        await runtime.migrate()  # what serve and worker do at start
        stored = await signing_key(runtime)
        assert stored.startswith(SEALED) and plain not in stored, "sealed at start"
        for link in links:
            assert (await http.get(link)).status_code == 200, "the same key, only sealed"
        async with runtime.engine.begin() as conn:  # `afterorder secrets reseal` with NEW,OLD configured
            await reseal_everything(conn, Sealer.from_setting(f"{new},{old}"))
        assert await signing_key(runtime) not in (stored, plain)

    if database_url.startswith("sqlite"):  # nor does the file hold it
        path = Path(make_url(database_url).database or "")
        raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        assert plain.encode() not in raw

    async with served(database_url, new) as (runtime, http):
        for link in links:
            assert (await http.get(link)).status_code == 200, "the new key alone opens it"
    async with served(database_url, old) as (runtime, http):
        async with runtime.engine.connect() as conn:
            assert await unreadable_secrets(conn, Sealer.from_setting(old)) == ["kumo link signing key"]
        locked = await http.get(links[0])
        assert locked.status_code == 503 and locked.json()["error"] == "secret_key", locked.text
        assert "configure the key they were sealed with" in locked.json()["message"]


async def test_webhooks_verify_from_a_plain_row_once_sealed_and_after_a_rotation(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    logs(caplog)
    old, new = new_key(), new_key()
    pem = store_dkim.generate_key("ao1", "kumo.example").private_key
    async with served(database_url, old) as (runtime, http):
        store, api_key = await add_store(runtime)
        async with runtime.engine.begin() as conn:  # as an older version stored them: in plain text
            for platform, secret in (("shopify", SHOPIFY), ("woocommerce", WOO)):
                await conn.execute(platform_connections.insert().values(
                    store_id=store.id, platform=platform, secret=secret, created_at=T0, updated_at=T0))
            await conn.execute(esp_credentials.insert().values(store_id=store.id, provider="mailgun",
                                                               settings={"signing_key": MAILGUN}, updated_at=T0))
        await configure(runtime, store, dkim=DkimKey("ao1", "kumo.example", pem))
        assert sorted(await stored_secrets(runtime)) == sorted([SHOPIFY, WOO, MAILGUN, pem])

        first = await shopify(http, SHOPIFY, "wh-1")
        assert first.status_code == 200, first.text
        assert (await woocommerce(http, WOO, "d-1")).status_code == 200, "a plain row is read as it is"

        await runtime.migrate()  # what serve and worker do at start
        sealed = await stored_secrets(runtime)
        assert len(sealed) == 4 and all(v.startswith(SEALED) for v in sealed), "sealed at start"
        assert not any(s in v for v in sealed for s in (SHOPIFY, WOO, MAILGUN, pem))
        again = await shopify(http, SHOPIFY, "wh-2")
        assert again.status_code == 200 and again.json()["accepted"][0]["status"] == "duplicate", again.text
        assert (await woocommerce(http, WOO, "d-2")).status_code == 200
        assert (await shopify(http, "shpss_forged", "wh-3")).status_code == 401
        await runtime.migrate()
        assert await stored_secrets(runtime) == sealed, "sealing at start is done once"

        async with runtime.engine.begin() as conn:  # `afterorder secrets reseal` with NEW,OLD configured
            counts = await reseal_everything(conn, Sealer.from_setting(f"{new},{old}"))
        assert (counts.resealed, counts.sealed) == (5, 0), "and the store's link signing key"

    if database_url.startswith("sqlite"):  # the file no longer holds the plain values either
        path = Path(make_url(database_url).database or "")
        raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        assert not any(s.encode() in raw for s in (SHOPIFY, WOO, MAILGUN, *pem.splitlines()[1:-1]))

    async with served(database_url, new) as (runtime, http):
        assert (await shopify(http, SHOPIFY, "wh-4")).status_code == 200, "the new key alone opens"
        assert (await woocommerce(http, WOO, "d-4")).status_code == 200
        assert (await shopify(http, "shpss_forged", "wh-5")).status_code == 401

    async with served(database_url, old) as (runtime, http):
        locked = await shopify(http, SHOPIFY, "wh-6")
        assert locked.status_code == 503 and locked.json()["error"] == "secret_key", locked.text
        assert "configure the key they were sealed with" in locked.json()["message"]
        mailgun = await http.post("/webhooks/esp/mailgun/kumo", json={})
        assert mailgun.status_code == 503 and mailgun.json()["error"] == "secret_key"
        rotate = await http.post("/api/v1/connections", headers={"Authorization": f"Bearer {api_key}"},
                                 json={"platform": "shopify", "secret": "shpss_next", "keep_previous": True})
        assert rotate.status_code == 503 and rotate.json()["error"] == "secret_key", rotate.text
        assert "configure the key they were sealed with" in rotate.json()["message"]
    assert "cannot be verified" in caplog.text and "Traceback" not in caplog.text
    assert "kumo DKIM private key, kumo link signing key, kumo mailgun signing_key, kumo shopify webhook secret, " \
           "kumo woocommerce webhook secret cannot be opened with the configured secret key" in caplog.text, \
        "said at start"
    for secret in (SHOPIFY, WOO, MAILGUN, old, new, *pem.splitlines()[1:-1]):
        assert secret not in caplog.text


async def test_the_admin_api_never_answers_a_secret(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    logs(caplog)
    key = new_key()
    given = {"line": {"channel_access_token": "LINE-token-in-api-7f6e5d", "channel_secret": "line-secret-api-1a2b"},
             "twilio": {"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "twilio-api-token-3c4d",
                        "from": "+15005550006"},
             "ses": {"region": "ap-northeast-1", "access_key_id": "AKIAKUMOEXAMPLE",
                     "secret_access_key": "ses-secret-in-api-5e6f7a8b"}}
    secrets = ["shpss_api-given-secret-2b3c", "LINE-token-in-api-7f6e5d", "line-secret-api-1a2b",
               "twilio-api-token-3c4d", "ses-secret-in-api-5e6f7a8b"]
    async with served(database_url, key) as (runtime, http):
        _, api_key = await add_store(runtime)
        http.headers["Authorization"] = f"Bearer {api_key}"
        answers = [await http.post("/api/v1/connections", json={"platform": "shopify", "secret": secrets[0]})]
        answers += [await http.put(f"/api/v1/channels/{name}", json={"options": options})
                    for name, options in given.items()]
        answers.append(await http.get("/api/v1/channels"))
        assert [a.status_code for a in answers] == [200, 201, 201, 201, 200], [a.text for a in answers]
        assert {p["provider"] for p in answers[-1].json()["providers"]} == {"line", "twilio", "ses"}
        assert (await shopify(http, secrets[0], "wh-1")).status_code == 200
        for answer in answers:
            assert not any(s in answer.text for s in secrets), answer.text
        assert all(v.startswith(SEALED) for v in await stored_secrets(runtime))
    assert not any(s in caplog.text for s in [*secrets, key])


async def test_mail_is_signed_with_a_sealed_dkim_key_and_waits_when_it_cannot_be_opened(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Any) -> None:
    from tests.integration.test_compliance_delivery import placed

    key, other = new_key(), new_key()
    dkim_key = store_dkim.generate_key("ao1", "kumo.example")
    flows = marketing_flows(tmp_path)
    async with running(sqlite_url, FrozenClock(T0), secret_key=key, flow_dirs=flows,
                       channel=SmtpChannel.from_url(smtp_server.url)) as runtime:
        store, _ = await add_store(runtime)
        sealed = DkimKey("ao1", "kumo.example", seal_value(runtime.sealer, dkim_key.private_key) or "")
        await configure(runtime, store, dkim=sealed)
        await ingest(runtime, store, placed("A1", consent=True))
        assert await Delivery(runtime.engine, runtime.registry, runtime.clock, runtime.settings.retry,
                              DeliverySettings(worker_id="test")).run_due() == 2
        raw = [m.raw for m in smtp_server.inbox.all()]
        record = store_dkim.dns_value(dkim_key).encode()
        assert len(raw) == 2 and all(dkim.verify(r, dnsfunc=lambda name, timeout=5: record) for r in raw)
        await ingest(runtime, store, placed("A2", consent=True))  # written to the outbox, not yet sent

    async with running(sqlite_url, FrozenClock(T0), secret_key=other, flow_dirs=flows,
                       channel=SmtpChannel.from_url(smtp_server.url)) as runtime:
        async with runtime.engine.connect() as conn:
            queued = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        await ingest(runtime, store, placed("A3", consent=True))
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(outbox))).scalar_one() == queued, \
                "a run whose links cannot be signed waits (the store's link key is sealed too)"
            assert (await conn.execute(select(func.count()).select_from(flow_runs)
                                       .where(flow_runs.c.status == "failed"))).scalar_one() == 0
        await Delivery(runtime.engine, runtime.registry, runtime.clock, runtime.settings.retry,
                       DeliverySettings(worker_id="test")).run_due()
        assert len(received(smtp_server)) == 2, "nothing goes out unsigned"
        async with runtime.engine.connect() as conn:
            waiting = (await conn.execute(select(outbox.c.status, outbox.c.last_error)
                                          .where(outbox.c.status != "sent"))).all()
            details = [r.detail for r in await conn.execute(select(delivery_attempts.c.detail))]
        assert waiting and all(r.status == "queued" for r in waiting)
        assert all("DKIM key: the stored secrets cannot be opened with the configured secret key" in r.last_error
                   for r in waiting)
        assert any("configure the key they were sealed with" in d for d in details)

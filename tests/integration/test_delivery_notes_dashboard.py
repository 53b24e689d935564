"""The store's side of delivery notes: the owner sets the webhook on the dashboard's settings page
(and sees the key its signature is made with, and each webhook's outcome), the customer's page shows
their notes with the one in force, a viewer may not change the setting; ``afterorder store set
--delivery-note-webhook`` does the same from the command line.  Real ASGI app, real SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.clock import FrozenClock
from afterorder.db.schema import audit_log, orders
from afterorder.db.store_settings import delivery_note_webhook_of
from afterorder.order_page.delivery_note import DeliveryNote, save_note
from afterorder.order_page.note_webhook import webhook_key
from tests.compliance_helpers import ingest
from tests.factories import order_event, running
from tests.integration.test_dashboard import client, log_in, token, users


async def test_the_owner_sets_the_webhook_and_sees_the_notes(sqlite_url: str) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    async with running(sqlite_url, clock) as runtime:
        kumo, _ = await users(runtime)
        await ingest(runtime, kumo, order_event("order.placed", "D1", clock.now()))
        async with client(runtime) as http:
            await log_in(http, "viewer")
            assert (await http.get("/dashboard/kumo/settings")).status_code == 403
        async with client(runtime) as http:
            await log_in(http, "owner")
            page = await http.get("/dashboard/kumo/settings")
            assert page.status_code == 200 and webhook_key(runtime.signers.of(kumo)) in page.text
            bad = await http.post("/dashboard/kumo/settings/delivery-note-webhook",
                                  data={"csrf": token(page.text), "url": "ftp://kumo.example/x"})
            assert bad.status_code == 400 and "url: &#39;ftp://kumo.example/x&#39; is not an http" in bad.text
            saved = await http.post("/dashboard/kumo/settings/delivery-note-webhook",
                                    data={"csrf": token(page.text), "url": "https://kumo.example/hooks/notes"})
            assert saved.status_code == 303
            async with runtime.engine.connect() as conn:
                assert await delivery_note_webhook_of(conn, kumo.id) == "https://kumo.example/hooks/notes"
                logged = (await conn.execute(select(audit_log.c.target, audit_log.c.details).where(
                    audit_log.c.store_id == kumo.id))).all()
            assert [json.dumps(d) for t, d in logged if t == "delivery_note_webhook"] == [
                json.dumps({"from": None, "to": "https://kumo.example/hooks/notes"})]

            async with runtime.engine.connect() as conn:
                row = (await conn.execute(select(orders.c.id, orders.c.customer_id).where(
                    orders.c.store_id == kumo.id, orders.c.external_id == "D1"))).one()
            await save_note(runtime.intake, runtime.engine, kumo, row.id, DeliveryNote("box", "am", "3 番"),
                            clock.now())
            clock.advance(60)
            await save_note(runtime.intake, runtime.engine, kumo, row.id, DeliveryNote("hand", "18-20", ""),
                            clock.now())
            customer = (await http.get(f"/dashboard/kumo/customers/{row.customer_id}")).text
            assert '<tr data-current="yes"' in customer and customer.count('<tr data-current="no"') == 1
            assert 'data-choice="hand"' in customer and 'data-window="am"' in customer and "3 番" in customer
            settings = (await http.get("/dashboard/kumo/settings")).text
            assert settings.count('data-status="pending"') == 2  # queued for the worker to post


def test_store_set_delivery_note_webhook(sqlite_url: str) -> None:
    def run(*args: str, code: int = 0) -> tuple[str, str]:
        result = CliRunner().invoke(build_app(), [*args, "--database", sqlite_url])
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result.stdout, result.stderr

    run("store", "add", "kumo", "--name", "雲茶舗", "--email-from", "shop@kumo.example", "--country", "JP")
    out, _ = run("store", "set", "kumo", "--delivery-note-webhook", "https://kumo.example/hooks/notes")
    shown = json.loads(out)["delivery_note_webhook"]
    assert shown["url"] == "https://kumo.example/hooks/notes" and shown["signature_header"] == "X-Afterorder-Signature"
    assert len(shown["signing_key"]) == 64
    _, err = run("store", "set", "kumo", "--delivery-note-webhook", "kumo.example/hooks", code=1)
    assert "--delivery-note-webhook: 'kumo.example/hooks' is not an http:// or https:// address" in err
    out, _ = run("store", "set", "kumo", "--delivery-note-webhook", "")
    assert json.loads(out)["delivery_note_webhook"] == {"url": None, "signing_key": None,
                                                        "signature_header": "X-Afterorder-Signature"}
    assert "delivery_note_webhook" not in json.loads(run("store", "set", "kumo")[0])

"""Data rights: export everything held about a customer; erase their personal data, keeping the
aggregates and the suppression (as a hash) — on SQLite and PostgreSQL, through the API."""

from __future__ import annotations

import json
from email import message_from_string
from email.policy import default
from typing import Any

import httpx
from sqlalchemy import func, select

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.clock import FrozenClock
from afterorder.compliance import consent
from afterorder.compliance.suppression import Reason, reasons_for, suppress
from afterorder.db.schema import attributions, engagements, events, metadata, orders, outbox
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.domain import Event, EventType
from afterorder.runtime import Runtime
from afterorder.tracking.engagement import record
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import add_store, order_event, running

EMAIL = "Hanako.Erasable@example.net"
PERSONAL = ("hanako.erasable@example.net", "Hanako", "Erasedottir", "+819055550199", "1-2-3 Himitsu-dori",
            "Himitsu-machi", "spy-novelist", "Glasslipper", "secret-tag", "203.0.113.77")


def order(order_id: str, at: Any, email: str = EMAIL, customer: str = "cust-H") -> Event:
    body = order_event("order.placed", order_id, at, email=email, locale="en")
    body["customer"].update(id=customer, first_name="Hanako", last_name="Erasedottir", phone="+81-90-5555-0199",
                            city="Himitsu-machi", occupation="spy-novelist", tags=["secret-tag"],
                            properties={"shoe": "Glasslipper"})
    body["order"]["shipping_address"] = {"name": "Hanako Erasedottir", "line1": "1-2-3 Himitsu-dori",
                                         "city": "Kyoto", "country": "JP"}
    return Event.model_validate(body)


async def everything(runtime: Runtime) -> str:
    """Every row of every table, as text, lower-cased."""
    dump = []
    async with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            dump.extend(json.dumps(dict(r), default=str, ensure_ascii=False)
                        for r in (await conn.execute(select(table))).mappings())
    return "\n".join(dump).lower()


async def count(runtime: Runtime, table: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_export_then_erase_keeps_aggregates_and_the_suppression(database_url: str,
                                                                      smtp_server: DevSmtpServer) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, key = await add_store(runtime)
        await runtime.intake.ingest(store, [order("H1", T0)])
        while await runtime.scheduler.run_due():
            pass
        async with runtime.engine.connect() as conn:
            sent = (await conn.execute(select(outbox))).mappings().one()
        clock.advance(60)
        await record(runtime.engine, runtime.intake, store, sent["idempotency_key"], EventType.MESSAGE_CLICKED,
                     clock.now(), url="https://kumo.example/p/1", user_agent="Mozilla/5.0 (X11)", ip="198.51.100.7")
        clock.advance(3600)
        await runtime.intake.ingest(store, [order("H2", clock.now())])
        async with runtime.engine.begin() as conn:
            await suppress(conn, store.id, EMAIL, Reason.HARD_BOUNCE, source="mailgun", now=clock.now(),
                           detail=f"550 <{EMAIL}> unknown")
        async with runtime.engine.begin() as conn:
            customer_id = (await conn.execute(select(events.c.customer_id).limit(1))).scalar_one()
            await consent.record(conn, [consent.Change(store.id, customer_id, consent.ConsentStatus.GRANTED,
                                                       consent.ConsentMethod.FORM, wording="Send me news",
                                                       source_ip="203.0.113.77")], clock.now())
        before = await everything(runtime)
        assert all(p.lower() in before for p in PERSONAL), "the test data is there to be erased"
        totals = {"orders": await count(runtime, orders), "events": await count(runtime, events),
                  "outbox": await count(runtime, outbox), "engagements": await count(runtime, engagements)}

        app = create_app(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                     headers={"Authorization": f"Bearer {key}"}) as http:
            exported = await http.get("/api/v1/customers/cust-H/export")
            assert exported.status_code == 200
            data = exported.json()
            assert data["customer"]["email"] == EMAIL.lower() and data["customer"]["last_name"] == "Erasedottir"
            assert sorted(o["external_id"] for o in data["orders"]) == ["H1", "H2"]
            assert data["orders"][0]["lines"][0]["title"] == "Wool Throw"
            assert {e["type"] for e in data["events"]} == {"order.placed", "message.clicked"}
            assert [m["template"] for m in data["messages"]] == ["order-confirmation"]
            mail = message_from_string(data["messages"][0]["body"], policy=default)
            assert "Hanako" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert data["engagements"][0]["ip"] == "198.51.100.7"
            assert data["attributions"][0]["revenue"] == "120.0000"
            assert [s["reason"] for s in data["suppressions"]] == ["hard_bounce"]
            assert (await http.get("/api/v1/customers/nobody/export")).status_code == 404
            assert (await http.post("/api/v1/customers/cust-H/erase", headers={"Authorization": "Bearer x"})
                    ).status_code == 401

            erased = await http.post("/api/v1/customers/cust-H/erase")
            assert erased.status_code == 200 and erased.json()["erased"]["customers"] == 1

        after = await everything(runtime)
        for personal in PERSONAL:
            assert personal.lower() not in after, f"{personal!r} is still stored"
        assert {"orders": await count(runtime, orders), "events": await count(runtime, events),
                "outbox": await count(runtime, outbox), "engagements": await count(runtime, engagements)} == totals
        async with runtime.engine.connect() as conn:
            kept = {r.external_id: r.total for r in await conn.execute(select(orders.c.external_id, orders.c.total))}
            credited = (await conn.execute(select(attributions.c.revenue))).scalar_one()
            still = await reasons_for(conn, [(store.id, EMAIL)])
        assert kept == {"H1": 120, "H2": 120} and credited == 120, "totals and attribution are kept"
        assert still[(store.id, EMAIL)] == {Reason.HARD_BOUNCE}, "the address is still suppressed, by its hash"

        # the same address, sent in again for a new customer, is still not mailed
        await runtime.intake.ingest(store, [order("H3", clock.now(), email=EMAIL.upper(), customer="cust-H-again")])
        while await runtime.scheduler.run_due():
            pass
        channel = SmtpChannel.from_url(smtp_server.url)
        try:
            await Delivery(runtime.engine, channel, runtime.clock, RetryPolicy(),
                           DeliverySettings(worker_id="t")).run_due()
        finally:
            await channel.close()
        assert smtp_server.inbox.count() == 0
        async with runtime.engine.connect() as conn:
            newest = (await conn.execute(select(outbox).order_by(outbox.c.id.desc()))).mappings().first()
        assert newest is not None and newest["last_error"] == "address suppressed (hard_bounce)"

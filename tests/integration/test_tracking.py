"""Opens and clicks over the ASGI app: signed links only, UTM on the store's links, Apple's prefetch
flagged, and flows that wait for a click move on when it comes."""

from __future__ import annotations

import base64
import json
import re
from email import message_from_string
from email.policy import default
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.schema import engagements, events, flow_runs, outbox, outbox_bodies
from afterorder.domain import Event
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import JP_STORE, add_store, order_event, running

STORE = {**JP_STORE, "support_url": "https://www.kumo.example/help"}
PRODUCT_URL = "https://www.kumo.example/p/kyusu?ref=mail&utm_source=newsletter"
CLICK_FLOW = """
id: click-follow-up
name: Click follow-up
trigger: order.placed
reentry: once_per_order
enabled_by_default: true
steps:
  - send: {template: order-confirmation, category: transactional}
  - wait: {for_event: message.clicked, timeout: 7d, on_timeout: exit}
  - send: {template: delivery-follow-up, category: transactional}
"""


def placed(order_id: str) -> Event:
    body = order_event("order.placed", order_id, T0)
    body["order"]["lines"][0]["url"] = PRODUCT_URL
    return Event.model_validate(body)


async def settle(runtime: Runtime) -> None:
    while await runtime.scheduler.run_due():
        pass


async def html_of(runtime: Runtime, template: str = "order-confirmation", oldest: bool = False) -> str:
    async with runtime.engine.connect() as conn:
        data = (await conn.execute(select(outbox_bodies.c.data).join(
            outbox, outbox.c.idempotency_key == outbox_bodies.c.idempotency_key).where(
            outbox.c.template == template).order_by(outbox.c.id if oldest else outbox.c.id.desc()))).scalars().first()
    assert data is not None
    body = message_from_string(data, policy=default).get_body(("html",))
    assert body is not None
    return str(body.get_content())


def target_of(link: str) -> str:
    """Where a click link says it goes (read from the token, as anyone can; only the signature is secret)."""
    body = link.rsplit("/", 1)[1].partition(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["u"])


def hrefs(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'<a\b[^>]*href="([^"]*)"', html)]


async def count(runtime: Runtime, table: Any, *where: Any) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


def client(runtime: Runtime, ip: str = "203.0.113.9") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def test_links_are_signed_and_a_valid_click_redirects_with_utm(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime, STORE)
        await runtime.intake.ingest(store, [placed("T1")])
        await settle(runtime)
        html = await html_of(runtime)
        links = hrefs(html)
        clicks = [h for h in links if "/t/c/" in h]
        assert clicks and all(h.startswith("http://127.0.0.1:8000/t/c/") for h in clicks)
        assert "mailto:support@kumo.example" in links, "mailto: links are left alone"
        assert re.search(r'<img src="http://127\.0\.0\.1:8000/t/o/[^"]+\.gif"', html), "the open pixel is there"
        assert PRODUCT_URL not in html, "no bare store link is left in the HTML"

        async with client(runtime) as http:
            product = next(h for h in clicks if target_of(h).startswith("https://www.kumo.example/p/"))
            token = product.rsplit("/", 1)[1]
            body, _, mac = token.partition(".")
            altered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
            evil = "eyJzIjoxLCJrIjoieCIsInUiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9.AAAA"  # {"s":1,"k":"x","u":"https://evil..."}
            for bad in (altered, body + "." + mac[::-1], "eyJzIjoxfQ", evil):
                refused = await http.get(f"/t/c/{bad}")
                assert refused.status_code == 400 and "location" not in refused.headers
                assert refused.json()["error"] == "bad_token"
            before = await count(runtime, engagements)
            clicked = await http.get(product)
        assert clicked.status_code == 302 and clicked.headers["cache-control"].startswith("no-store")
        target = urlsplit(clicked.headers["location"])
        query = parse_qs(target.query)
        assert (target.netloc, target.path) == ("www.kumo.example", "/p/kyusu")
        assert query["ref"] == ["mail"] and query["utm_source"] == ["newsletter"], "existing utm_ params are kept"
        assert query["utm_medium"] == ["email"] and query["utm_campaign"] == ["order-confirmation"]
        assert query["utm_content"] == ["order-confirmation"]
        assert await count(runtime, engagements) == before + 1
        async with runtime.engine.connect() as conn:
            row = (await conn.execute(select(engagements).order_by(engagements.c.id.desc()))).mappings().first()
            event = (await conn.execute(select(events).where(events.c.id == row["event_id"]))).mappings().one()
            sent = (await conn.execute(select(outbox))).mappings().one()
        assert row["kind"] == "click" and row["outbox_id"] == sent["id"] and row["url"] == clicked.headers["location"]
        assert event["type"] == "message.clicked" and event["source"] == "tracking"
        assert event["payload"]["message"]["outbox_id"] == sent["id"]
        assert event["customer_id"] == sent["customer_id"] and event["order_id"] == sent["order_id"]


async def test_nothing_is_recorded_for_a_bad_token(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime, STORE)
        await runtime.intake.ingest(store, [placed("T2")])
        await settle(runtime)
        pixel = re.search(r'/t/o/([^"]+)\.gif', await html_of(runtime))
        assert pixel
        other, _ = await add_store(runtime, {**STORE, "slug": "other"})
        forged = runtime.signers.of(other).sign("open", {"s": store.id, "k": "run:1:step:0"})  # right shape, wrong key
        click_as_open = runtime.signers.of(store).sign("click", {"s": store.id, "k": "run:1:step:0"})
        async with client(runtime) as http:
            huge = runtime.signers.of(store).sign("open", {"s": 10**30, "k": "run:1:step:0"})
            for token in (forged, click_as_open, pixel.group(1)[:-3], "garbage", huge):
                assert (await http.get(f"/t/o/{token}.gif")).status_code == 400
        assert await count(runtime, engagements) == 0
        assert await count(runtime, events, events.c.source == "tracking") == 0


async def test_the_pixel_records_opens_and_flags_apple_privacy_prefetch(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, key = await add_store(runtime, STORE)
        await runtime.intake.ingest(store, [placed("T3"), placed("T3b")])
        await settle(runtime)
        pixels = re.findall(r'src="(http://127\.0\.0\.1:8000/t/o/[^"]+\.gif)"', await html_of(runtime))
        other = re.findall(r'src="(http://127\.0\.0\.1:8000/t/o/[^"]+\.gif)"', await html_of(runtime, oldest=True))
        assert pixels and other and other != pixels
        pixel = pixels[0]
        reader = {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"}
        async with client(runtime) as http:
            human = await http.get(pixel, headers=reader)
            proxy = await http.get(pixel, headers={"User-Agent": "Mozilla/5.0"})
        async with client(runtime, ip="17.58.101.4") as http:  # Apple's network, with a full user agent
            from_apple = await http.get(pixel, headers=reader)
        assert human.status_code == 200 and human.headers["content-type"] == "image/gif"
        assert human.content.startswith(b"GIF89a") and "no-store" in human.headers["cache-control"]
        async with runtime.engine.connect() as conn:
            rows = (await conn.execute(select(engagements.c.kind, engagements.c.machine_open)
                                       .order_by(engagements.c.id))).all()
        assert [tuple(r) for r in rows] == [("open", False), ("open", True), ("open", True)]
        assert proxy.status_code == from_apple.status_code == 200
        assert await count(runtime, events, events.c.type == "message.opened") == 3
        async with client(runtime, ip="17.58.101.4") as http:  # the other message: fetched by Apple only
            await http.get(other[0], headers={"User-Agent": "Mozilla/5.0"})
            report = await http.get("/api/v1/engagement", headers={"Authorization": f"Bearer {key}"})
        [row] = [r for r in report.json()["messages"] if r["template"] == "order-confirmation"]
        assert (row["opened"], row["machine_opened_only"]) == (1, 1), "Apple's prefetch is not a human open"


async def test_a_flow_waiting_for_a_click_moves_on_when_it_comes(database_url: str, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "click-follow-up.yaml").write_text(CLICK_FLOW)
    clock = FrozenClock(T0)
    async with running(database_url, clock, flow_dirs=(flows,)) as runtime:
        store, _ = await add_store(runtime, STORE)
        await runtime.intake.ingest(store, [placed("T4")])
        await settle(runtime)
        async with runtime.engine.connect() as conn:
            run = (await conn.execute(select(flow_runs).where(flow_runs.c.flow_id == "click-follow-up"))
                   ).mappings().one()
        assert run["status"] == "waiting" and run["waiting_for"] == "message.clicked"
        html = await html_of(runtime)
        link = next(h for h in hrefs(html) if "/t/c/" in h)
        clock.advance(3600)
        async with client(runtime) as http:
            assert (await http.get(link)).status_code == 302
        await settle(runtime)
        async with runtime.engine.connect() as conn:
            run = (await conn.execute(select(flow_runs).where(flow_runs.c.flow_id == "click-follow-up"))
                   ).mappings().one()
            templates = [r.template for r in await conn.execute(select(outbox.c.template).where(
                outbox.c.run_id == run["id"]).order_by(outbox.c.id))]
        assert run["status"] == "done"
        assert templates == ["order-confirmation", "delivery-follow-up"]

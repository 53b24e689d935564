"""The demo: two sample stores and a simulated stream of orders → shipped → delivered, on a fast clock.

The stores send by email, LINE and SMS to the demo's own receivers (``demo_reach``); ``/inbox`` shows
what each received."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import typer
from sqlalchemy import select

from afterorder.clock import OffsetClock
from afterorder.db.dashboard_users import Role, add_user
from afterorder.db.schema import dashboard_users
from afterorder.db.stores import StoreRow, create_store, get_store
from afterorder.dev.demo_reach import after_order, reach, set_up_channels
from afterorder.dev.receivers import DevReceivers
from afterorder.domain import Event, EventType
from afterorder.runtime import Runtime

DEMO_USER = "demo"
DEMO_PASSWORD = "afterorder-demo"  # a local demo only; `afterorder user add` for real users
STORES: list[dict[str, Any]] = [
    {"slug": "kumo-tea", "name": "雲茶舗 Kumo Tea", "email_from": "shop@kumo-tea.example",
     "reply_to": "support@kumo-tea.example", "country": "JP", "locale": "ja", "timezone": "Asia/Tokyo",
     "currency": "JPY", "postal_address": "〒600-8216 京都府京都市下京区烏丸通七条下ル 1-2-3",
     "support_email": "support@kumo-tea.example", "support_phone": "075-000-0000",
     "brand_color": "#3a6b35"},
    {"slug": "harbor-goods", "name": "Harbor Goods", "email_from": "hello@harbor-goods.example",
     "reply_to": "help@harbor-goods.example", "country": "US", "locale": "en",
     "timezone": "America/Los_Angeles", "currency": "USD",
     "postal_address": "100 Pier Ave, San Francisco, CA 94105", "support_email": "help@harbor-goods.example",
     "brand_color": "#0b5cad"},
]
PEOPLE = [
    ("山田", "太郎", "ja", "Asia/Tokyo", "JP"), ("佐藤", "花子", "ja", "Asia/Tokyo", "JP"),
    ("王", "芳", "zh-Hans", "Asia/Shanghai", "CN"), ("Smith", "Emma", "en", "America/New_York", "US"),
    ("鈴木", "一郎", "ja", "Asia/Tokyo", "JP"), ("Garcia", "Liam", "en", "America/Chicago", "US"),
]
PRODUCTS = {
    "JPY": [("玉露 雫 100g", Decimal(3200), "tea"), ("京焼 急須", Decimal(8800), "teaware"),
            ("ほうじ茶 ティーバッグ 20包", Decimal(1500), "tea")],
    "USD": [("Canvas Tote", Decimal("38.00"), "bags"), ("Enamel Mug", Decimal("18.50"), "kitchen"),
            ("Wool Throw", Decimal("120.00"), "home")],
}


@dataclass
class SimOrder:
    store: StoreRow
    order: dict[str, Any]
    customer: dict[str, Any]
    placed: datetime
    shipped: datetime | None = None
    delivered: datetime | None = None
    refunded: bool = False


async def _stores(runtime: Runtime, receivers: DevReceivers) -> list[StoreRow]:
    out = []
    async with runtime.engine.begin() as conn:
        for spec in STORES:
            existing = await get_store(conn, spec["slug"])
            if existing is None:
                existing, key = await create_store(conn, runtime.clock.now(), sealer=runtime.sealer, **spec)
                typer.echo(f"demo store {spec['slug']} created; API key {key}")
            await set_up_channels(conn, runtime.sealer, existing, receivers, runtime.clock.now())
            out.append(existing)
        # A dashboard login for the demo: owner of both stores (an agency, with the store switcher).
        if not (await conn.execute(select(dashboard_users.c.id).where(
                dashboard_users.c.username == DEMO_USER))).first():
            await add_user(conn, DEMO_USER, DEMO_PASSWORD, [(s.id, Role.OWNER) for s in out], runtime.clock.now())
    return out


def _new_order(store: StoreRow, n: int, rng: random.Random, run: str, index: int,
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Order ``n`` of the demo, the store's ``index``-th (from 0), by a new customer."""
    family, given, locale, tz, country = rng.choice(PEOPLE)
    email = f"{given.lower() if given.isascii() else 'customer'}{n}@example.com"
    customer = {"id": f"c-{store.slug}-{n}", "email": email, "first_name": given, "last_name": family,
                "locale": locale, "timezone": tz, "country": country, "accepts_marketing": rng.random() < 0.6}
    reach(store, customer, index)
    items = rng.sample(PRODUCTS[store.currency], k=rng.randint(1, 2))
    lines = [{"product_id": f"p{i}", "sku": f"SKU-{i}", "title": t, "quantity": rng.randint(1, 2),
              "price": str(p), "category": c,
              "image_url": f"https://picsum.photos/seed/{store.slug}{i}/120/120"} for i, (t, p, c) in enumerate(items)]
    subtotal = sum((Decimal(str(line["price"])) * int(str(line["quantity"])) for line in lines), Decimal(0))
    shipping = Decimal(600) if store.currency == "JPY" else Decimal("7.50")
    order = {"id": f"o-{store.slug}-{run}-{n}", "number": f"#{1000 + n}", "currency": store.currency,
             "subtotal": str(subtotal), "shipping": str(shipping), "total": str(subtotal + shipping), "lines": lines,
             "shipping_address": {"name": f"{family} {given}", "line1": "1-2-3", "city": "Kyoto" if country == "JP"
                                  else "Springfield", "postal_code": "600-8216", "country": country}}
    return order, customer


async def _emit(runtime: Runtime, store: StoreRow, kind: EventType, sim: SimOrder, n: int, now: datetime) -> None:
    payload: dict[str, Any] = {"id": f"{kind.value}-{sim.order['id']}", "type": kind.value,
                               "occurred_at": now.isoformat(), "customer": sim.customer, "order": sim.order}
    if kind is EventType.ORDER_SHIPPED:
        payload["shipment"] = {"carrier": "Yamato Transport" if store.currency == "JPY" else "UPS",
                               "tracking_number": f"4455{n:08d}",  # the carrier's own page is linked
                               "estimated_delivery": (now + timedelta(days=2)).isoformat()}
    await runtime.intake.ingest(store, [Event.model_validate(payload)], source="demo", raw=[payload])


@dataclass
class Places:
    """Where the demo's orders go and what they reach: the server, its receivers, an HTTP client."""

    runtime: Runtime
    url: str
    receivers: DevReceivers
    http: httpx.AsyncClient


async def _placed(places: Places, sim: SimOrder, n: int, now: datetime) -> None:
    await _emit(places.runtime, sim.store, EventType.ORDER_PLACED, sim, n, now)
    await after_order(places.runtime, places.receivers, places.http, places.url, sim.store, sim.customer)


async def _move_on(runtime: Runtime, sims: list[SimOrder], now: datetime) -> None:
    """Ship what was placed a day ago, deliver (or refund) what was shipped two days ago."""
    for i, sim in enumerate(sims):
        if sim.shipped is None and now - sim.placed >= timedelta(days=1):
            sim.shipped = now
            await _emit(runtime, sim.store, EventType.ORDER_SHIPPED, sim, i, now)
        elif sim.shipped and sim.refunded and sim.delivered is None:
            sim.delivered = now
            await _emit(runtime, sim.store, EventType.ORDER_REFUNDED, sim, i, now)
        elif sim.shipped and sim.delivered is None and now - sim.shipped >= timedelta(days=2):
            sim.delivered = now
            await _emit(runtime, sim.store, EventType.ORDER_DELIVERED, sim, i, now)


async def simulate(runtime: Runtime, url: str, receivers: DevReceivers, *, day_seconds: float = 6.0,
                   orders: int = 30) -> None:
    """Place ``orders`` orders over the first days, ship and deliver them; the clock runs a day per
    ``day_seconds`` real seconds so follow-ups arrive within a minute."""
    clock = runtime.clock
    assert isinstance(clock, OffsetClock), "the demo needs the dev clock"
    stores = await _stores(runtime, receivers)
    rng = random.Random(7)
    run = clock.now().strftime("%Y%m%d%H%M%S")  # a second demo on the same database places new orders
    sims: list[SimOrder] = []
    tick = timedelta(hours=6)
    typer.echo(f"demo: {orders} orders over the next days, a day every {day_seconds:g} s. Open\n"
               f"  mail:      {url}/inbox\n  LINE:      {url}/inbox/line\n  SMS:       {url}/inbox/sms\n"
               f"  flow runs: {url}/runs\n"
               f"  dashboard: {url}/dashboard (user {DEMO_USER}, password {DEMO_PASSWORD})")
    n = 0
    async with httpx.AsyncClient(timeout=10.0) as http:
        places = Places(runtime, url, receivers, http)
        while True:
            now = clock.now()
            if n < orders:
                index = n // len(stores)
                for store in stores:
                    n += 1
                    order, customer = _new_order(store, n, rng, run, index)
                    sims.append(SimOrder(store, order, customer, now, refunded=(n % 9 == 0)))
                    await _placed(places, sims[-1], n, now)
            await _move_on(runtime, sims, now)
            await asyncio.sleep(day_seconds / 4)
            clock.advance(tick.total_seconds())
            runtime.poke()

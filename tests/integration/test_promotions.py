"""Coupons and recommendations on SQLite and PostgreSQL: what a customer is offered, and that a code is
theirs alone, the same on a retry, and used up by the order that names it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.schema import coupons, customers
from afterorder.domain import Event
from afterorder.promotions.coupons import ALPHABET, CouponError, CouponRequest, import_pool, issue
from afterorder.promotions.recommendations import recommend
from afterorder.runtime import Runtime
from tests.conftest import T0
from tests.factories import add_store, running


def _order(n: int, customer: str, products: list[tuple[str, int]]) -> dict[str, Any]:
    return {"id": f"o{n}", "type": "order.placed", "occurred_at": T0.isoformat(),
            "customer": {"id": customer, "email": f"{customer}@example.jp"},
            "order": {"id": f"O{n}", "number": f"#{n}", "currency": "JPY",
                      "lines": [{"product_id": p, "title": p, "price": price, "quantity": 1} for p, price in products]}}


def _product(pid: str, category: str, price: int, *, image: bool = True, in_stock: bool = True) -> dict[str, Any]:
    return {"id": f"p:{pid}", "type": "product.updated", "occurred_at": T0.isoformat(),
            "product": {"id": pid, "title": pid.title(), "category": category, "price": price, "currency": "JPY",
                        "in_stock": in_stock, "image_url": f"https://cdn.example/{pid}.jpg" if image else None}}


async def _ingest(runtime: Runtime, store: Any, *events: dict[str, Any]) -> None:
    await runtime.intake.ingest(store, [Event.model_validate(e) for e in events])


async def _customer(runtime: Runtime, store: Any, external: str) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(customers.c.id).where(
            customers.c.store_id == store.id, customers.c.external_id == external))).scalar_one())


async def test_recommendations_rank_bought_together_then_upsell_collection_and_popular(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        await _ingest(runtime, store,
                      _product("sencha", "tea", 2000), _product("kyusu", "teaware", 6000),
                      _product("gyokuro", "tea", 5000), _product("hojicha", "tea", 1500),
                      _product("soldout", "tea", 3000, in_stock=False), _product("noimage", "tea", 1000, image=False),
                      _product("mug", "teaware", 1200), _product("scoop", "tools", 800))
        await _ingest(runtime, store, _order(1, "a", [("sencha", 2000), ("kyusu", 6000)]),
                      _order(2, "b", [("sencha", 2000), ("kyusu", 6000)]),
                      _order(3, "c", [("mug", 1200)]), _order(4, "d", [("mug", 1200)]),
                      _order(5, "e", [("scoop", 800)]),
                      _order(6, "me", [("sencha", 2000)]))
        me = await _customer(runtime, store, "me")
        async with runtime.engine.connect() as conn:
            picks = await recommend(conn, store.id, me, None, 6)
            few = await recommend(conn, store.id, me, None, 2)
            stranger = await recommend(conn, store.id, None, None, 3)
        assert [(p["product_id"], p["reason"]) for p in picks.items] == [
            ("kyusu", "bought_together"), ("gyokuro", "upsell"), ("hojicha", "collection"),
            ("mug", "popular"), ("scoop", "popular")]
        assert [p["product_id"] for p in few.items] == ["kyusu", "gyokuro"]
        assert [p["product_id"] for p in few.collection] == ["hojicha"], "the rest of the collection"
        ids = {p["product_id"] for p in picks.items}
        assert not ids & {"sencha", "soldout", "noimage"}, "never bought, sold out or without an image"
        assert [p["product_id"] for p in stranger.items] == ["sencha", "kyusu", "mug"], "popular first without history"


async def test_a_generated_code_is_issued_once_per_run_step(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        request = CouponRequest(prefix="WELCOME", percent=10, valid=timedelta(days=30))
        async with runtime.engine.begin() as conn:
            first = await issue(conn, store.id, request, run_id=7, step=0, customer_id=None, now=T0)
            again = await issue(conn, store.id, request, run_id=7, step=0, customer_id=None, now=T0)
            other = await issue(conn, store.id, request, run_id=8, step=0, customer_id=None, now=T0)
        assert first == again, "a retried step gets the same code"
        assert other.code != first.code
        prefix, random_part = first.code.split("-")
        assert prefix == "WELCOME" and len(random_part) == 8 and set(random_part) <= set(ALPHABET)
        assert not set(random_part) & set("01OIL")
        assert first.percent == 10 and first.expires_at == T0 + timedelta(days=30)


async def test_a_pool_hands_out_each_code_once_and_says_when_it_is_empty(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            added = await import_pool(conn, store.id, "spring", ["code", "SPRING-1", "SPRING-2", "SPRING-1"],
                                      percent=15, amount=None, expires_at=None, now=T0)
            assert added == (2, 0)
            assert await import_pool(conn, store.id, "spring", ["SPRING-2", "SPRING-3"], percent=15, amount=None,
                                     expires_at=None, now=T0) == (1, 1)
            with pytest.raises(CouponError, match="line 2"):
                await import_pool(conn, store.id, "spring", ["SPRING-4", "no spaces!"], percent=None, amount=None,
                                  expires_at=None, now=T0)
            request = CouponRequest(pool="spring")
            got = [(await issue(conn, store.id, request, run_id=r, step=1, customer_id=None, now=T0)).code
                   for r in (1, 2, 3, 1)]
            assert got == ["SPRING-1", "SPRING-2", "SPRING-3", "SPRING-1"]
            with pytest.raises(CouponError, match="no unused codes left"):
                await issue(conn, store.id, request, run_id=4, step=1, customer_id=None, now=T0)


async def test_an_order_that_names_the_code_uses_it_up(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        store, _ = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            coupon = await issue(conn, store.id, CouponRequest(prefix="GIFT", amount=Decimal(500)), run_id=1, step=0,
                                 customer_id=None, now=T0)
        order = _order(9, "me", [("sencha", 2000)])
        order["properties"] = {"discount_codes": [{"code": coupon.code.lower()}]}
        await _ingest(runtime, store, order, {**_order(10, "me", [("sencha", 2000)]),
                                              "properties": {"coupon": coupon.code}})
        async with runtime.engine.connect() as conn:
            row = (await conn.execute(select(coupons).where(coupons.c.code == coupon.code))).mappings().one()
        assert row["redeemed_at"] is not None and row["redeemed_order_id"] is not None

"""Segments compiled to SQL, on SQLite and PostgreSQL: every operator, statistics, and the promise
that a member list and "is this customer in it" always agree."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.schema import customer_stats, customers
from afterorder.segments import membership
from afterorder.segments.membership import SegmentError
from tests.factories import running
from tests.segment_data import EVERYONE, NOW, segment_store

CASES: list[tuple[Any, set[str]]] = [
    # profile fields
    ({"field": "customer.country", "value": "JP"}, {"aiko", "dai", "emi"}),
    ({"field": "customer.country", "op": "ne", "value": "JP"}, {"ben", "chen"}),
    ({"field": "customer.locale", "op": "in", "value": ["en", "zh-Hans"]}, {"ben", "chen"}),
    ({"field": "customer.locale", "op": "not_in", "value": ["ja"]}, {"ben", "chen", "emi"}),
    ({"field": "customer.email", "op": "contains", "value": "example.jp"}, {"aiko", "dai", "emi"}),
    ({"field": "customer.email", "op": "contains", "value": "EXAMPLE"}, set()),
    ({"field": "customer.gender", "op": "exists"}, {"aiko", "dai"}),
    ({"field": "customer.gender", "op": "exists", "value": False}, {"ben", "chen", "emi"}),
    ({"field": "customer.birth_date", "op": "lt", "value": "2000-01-01"}, {"aiko"}),
    ({"field": "customer.tags", "op": "contains", "value": "tea"}, {"aiko"}),  # not "teapot"
    ({"field": "customer.tags", "op": "in", "value": ["new", "teapot"]}, {"chen", "dai"}),
    ({"field": "customer.tags", "op": "exists"}, {"aiko", "chen", "dai"}),
    ({"field": "customer.properties.size", "value": "M"}, {"aiko"}),
    ({"field": "customer.properties.skill", "op": "gte", "value": 2}, {"aiko"}),
    ({"field": "customer.accepts_marketing", "value": True}, {"aiko", "chen"}),
    ({"field": "customer.region", "value": "京都府"}, {"aiko"}),
    # statistics
    ({"field": "stats.order_count", "op": "gte", "value": 2}, {"aiko"}),  # dai: one cancelled, one refunded
    ({"field": "stats.order_count", "value": 0}, {"chen"}),
    ({"field": "stats.is_first_time", "value": True}, {"ben", "dai", "emi"}),
    ({"field": "stats.order_count", "op": "lte", "value": 1}, {"ben", "chen", "dai", "emi"}),
    ({"field": "stats.order_count", "op": "lt", "value": 1}, {"chen"}),
    ({"field": "prediction.probability_alive", "op": "gte", "value": 0}, set()),  # nothing fitted yet
    ({"field": "stats.is_repeat", "value": True}, {"aiko"}),
    ({"field": "stats.total_spent", "op": ">=", "value": 50000}, {"aiko", "emi"}),
    ({"field": "stats.aov", "op": "gt", "value": 30000}, {"aiko", "emi"}),
    ({"field": "stats.refund_count", "op": "gte", "value": 1}, {"dai"}),
    ({"field": "stats.cancel_count", "value": 1}, {"dai"}),
    ({"field": "stats.international", "value": True}, {"ben"}),
    ({"field": "stats.last_order_at", "op": "within_last", "value": "30d"}, {"aiko", "dai"}),
    ({"field": "stats.last_order_at", "op": "before_last", "value": "365d"}, {"emi"}),
    ({"field": "stats.first_order_at", "op": "lt", "value": "2026-01-01T00:00:00+09:00"}, {"emi"}),
    ({"field": "stats.days_since_last_order", "op": "gte", "value": 300}, {"ben", "emi"}),
    ({"field": "stats.days_since_last_order", "op": "lt", "value": 7}, {"dai"}),
    ({"field": "stats.vip", "value": True}, set()),
    # events and purchases
    ({"has_done": "order.placed", "at_least": 2}, {"aiko", "dai"}),
    ({"has_done": "order.placed", "at_least": 3}, {"dai"}),
    ({"has_done": "order.placed", "within": "30d"}, {"aiko", "dai"}),
    ({"has_done": "customer.created"}, {"chen"}),
    ({"bought": {"category": "tea"}}, {"aiko", "ben", "dai"}),
    ({"bought": {"category": "tea"}, "within": "30d"}, {"aiko", "dai"}),
    ({"bought": {"product": "p-kyusu"}}, {"aiko"}),
    ({"bought": {"category": "teaware"}}, {"aiko"}),  # dai's bowl was cancelled
    ({"bought": {"category": "tools"}}, set()),  # dai's whisk was refunded
    # combinators
    ({"all": [{"field": "customer.country", "value": "JP"}, {"field": "stats.is_repeat", "value": True}]}, {"aiko"}),
    ({"any": [{"field": "customer.country", "value": "US"}, {"bought": {"product": "p-set"}}]}, {"ben", "emi"}),
    ({"not": {"bought": {"category": "tea"}}}, {"chen", "emi"}),
    ({"not": {"field": "customer.gender", "value": "female"}}, {"ben", "chen", "dai", "emi"}),  # missing ≠ female
]


async def test_every_operator_selects_the_right_customers(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store = await segment_store(runtime)
        async with runtime.engine.begin() as conn:
            for n, (definition, expected) in enumerate(CASES):
                segment = await membership.define(conn, store, f"s{n}", definition, NOW)
                found = {m["id"] for m in await membership.members(conn, store, segment, NOW)}
                assert found == expected, (definition, found)
                assert await membership.count(conn, store, segment, NOW) == len(expected)


async def test_statistics_follow_every_event(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        await segment_store(runtime)
        async with runtime.engine.connect() as conn:
            rows = {r.external_id: r for r in await conn.execute(
                select(customers.c.external_id, customer_stats).join(customer_stats, customer_stats.c.customer_id ==
                                                                     customers.c.id))}
        dai = rows["dai"]
        assert (dai.order_count, dai.total_spent, dai.refund_count, dai.cancel_count) == (1, 5000, 1, 1)
        assert dai.categories == {"tea": "2026-11-20"} and dai.products == {"p-matcha": "2026-11-20"}
        aiko = rows["aiko"]
        assert (aiko.order_count, aiko.total_spent, aiko.international) == (2, 80000, False)
        assert rows["ben"].international is True and "chen" not in rows


async def test_segments_refer_to_segments_and_errors_name_the_problem(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store = await segment_store(runtime)
        async with runtime.engine.begin() as conn:
            await membership.define(conn, store, "japan", {"field": "customer.country", "value": "JP"}, NOW)
            both = await membership.define(conn, store, "japan-tea", {"all": [
                {"in_segment": "japan"}, {"bought": {"category": "tea"}}]}, NOW)
            assert {m["id"] for m in await membership.members(conn, store, both, NOW)} == {"aiko", "dai"}
            with pytest.raises(SegmentError, match="circle: japan-tea → japan-tea"):
                await membership.define(conn, store, "japan-tea", {"in_segment": "japan-tea"}, NOW)
            for definition, message in [
                ({"in_segment": "nowhere"}, "no segment 'nowhere'"),
                ({"field": "stats.order_cnt", "value": 1},
                 "'stats.order_cnt' is not a stats field; known: order_count"),
                ({"field": "order.total", "op": "gt", "value": 1}, "only known inside a flow"),
                ({"field": "stats.order_count", "op": "gt", "value": "lots"},
                 "stats.order_count: 'lots' is not a number"),
                ({"field": "stats.total_spent", "op": "within_last", "value": "30d"}, "needs a date or time field"),
                ({"has_done": "order.teleported"}, "unknown event type 'order.teleported'"),
                ({"bought": {"colour": "red"}}, "give one of {product: ID_OR_SKU} or {category: NAME}"),
            ]:
                with pytest.raises(SegmentError, match=message.replace("{", r"\{").replace("}", r"\}")):
                    await membership.define(conn, store, "bad", definition, NOW)
            assert [s.slug for s in await membership.listing(conn, store)] == ["japan", "japan-tea"]


# ---- property: the member list and the one-customer check are the same expression ---------------

LEAVES = st.sampled_from([c for c, _ in CASES if "all" not in c and "any" not in c and "not" not in c])
CONDITIONS = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"all": parts}),
    st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"any": parts}),
    inner.map(lambda part: {"not": part}),
), max_leaves=6)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_member_list_and_single_check_always_agree(database: str, request: pytest.FixtureRequest,
                                                   tmp_path: Any) -> None:
    import asyncio

    from tests.conftest import _reset_postgres

    if database == "sqlite":
        url = f"sqlite:///{tmp_path}/segments.db"
    else:
        url = request.getfixturevalue("postgres_database")
        asyncio.run(_reset_postgres(url))

    async def prepare() -> None:
        async with running(url, FrozenClock(NOW)) as runtime:
            await segment_store(runtime)

    asyncio.run(prepare())

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(CONDITIONS)
    def check(definition: Any) -> None:
        async def agree() -> None:
            async with running(url, FrozenClock(NOW)) as runtime:
                async with runtime.engine.begin() as conn:
                    store = await _store(conn)
                    segment = await membership.define(conn, store, "prop", definition, NOW)
                    listed = {m["id"] for m in await membership.members(conn, store, segment, NOW)}
                    one_by_one = {c for c in EVERYONE if await membership.is_member(
                        conn, store, segment, await membership.customer_id_for(conn, store, c), NOW)}
                    assert listed == one_by_one, definition
                    assert listed <= EVERYONE
        asyncio.run(agree())

    check()


async def _store(conn: Any) -> Any:
    from afterorder.db.stores import get_store

    return await get_store(conn, "kumo")


async def test_daily_rfm_scores_and_the_top_spenders_become_vip(database_url: str) -> None:
    from datetime import timedelta

    from afterorder.db.customer_stats import refresh_stale_rfm

    async with running(database_url, FrozenClock(NOW)) as runtime:
        store = await segment_store(runtime)
        # As serve runs it: the buyers read and scored on the reader, only the update in a write transaction.
        assert len(await refresh_stale_rfm(runtime.engine, NOW, reader=runtime.reader)) == 1
        assert await refresh_stale_rfm(runtime.engine, NOW + timedelta(hours=3)) == []  # fresh: left alone
        async with runtime.engine.begin() as conn:
            expected = {
                ("stats.rfm_recency", 5): {"dai"}, ("stats.rfm_recency", 4): {"aiko"},
                ("stats.rfm_recency", 1): {"emi"}, ("stats.rfm_monetary", 5): {"emi"},
                ("stats.rfm_monetary", 1): {"ben"}, ("stats.vip", True): {"emi"},
            }
            for (field, value), who in expected.items():
                segment = await membership.define(conn, store, "rfm", {"field": field, "value": value}, NOW)
                assert {m["id"] for m in await membership.members(conn, store, segment, NOW)} == who, field


def test_quintiles_score_ties_alike_and_invert_for_recency() -> None:
    from afterorder.db.customer_stats import quintiles

    assert quintiles([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintiles([7, 7, 7]) == [3, 3, 3]
    assert quintiles([1.0, 100.0], higher_is_better=False) == [4, 2]  # mid-rank: two values are 2nd and 4th fifth


async def test_the_workers_score_rfm_only_after_the_start_up_grace(sqlite_url: str, smtp_server: Any) -> None:
    """The daily jobs (RFM, SciPy refits) leave the first minutes after a start to the traffic."""
    async def scored(runtime: Any) -> int:
        async with runtime.engine.connect() as conn:
            return len((await conn.execute(select(customer_stats.c.customer_id).where(
                customer_stats.c.rfm_updated_at.is_not(None)))).all())

    async with running(sqlite_url, FrozenClock(NOW), smtp_url=smtp_server.url, daily_first_seconds=1.0) as runtime:
        await segment_store(runtime)
        await runtime.start_workers()
        await asyncio.sleep(0.5)
        assert await scored(runtime) == 0  # still within the grace
        for _ in range(100):
            if await scored(runtime):
                break
            await asyncio.sleep(0.1)
        assert await scored(runtime) > 0

"""Survey answers on SQLite and PostgreSQL: a click records, a scanner's burst of clicks does not, the
answer becomes an event and a profile property, and the store's detractor alert follows the answer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.content.store_content import ContentError, validate
from afterorder.db.schema import customers, events, orders, outbox, survey_answers
from afterorder.domain import Event
from afterorder.segments import membership
from afterorder.surveys.answers import Subject, record
from tests.conftest import T0
from tests.factories import add_store, order_event, running


async def _state(runtime: Any, store_id: int) -> tuple[int | None, list[Any], dict[str, Any], list[Any]]:
    async with runtime.engine.connect() as conn:
        score = (await conn.execute(select(survey_answers.c.score).where(survey_answers.c.store_id == store_id))
                 ).scalar()
        answered = [r.payload["properties"] for r in await conn.execute(
            select(events.c.payload).where(events.c.type == "survey.answered").order_by(events.c.id))]
        props = (await conn.execute(select(customers.c.properties))).scalar() or {}
        alerts = (await conn.execute(select(outbox.c.recipient, outbox.c.status, outbox.c.next_attempt_at).where(
            outbox.c.template == "nps-store-alert"))).all()
    return score, answered, props, alerts


async def test_nps_clicks_scanner_bursts_and_the_store_alert(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        await runtime.intake.ingest(store, [Event.model_validate(order_event("order.delivered", "N1", T0,
                                                                             email="taro@example.jp"))])
        async with runtime.engine.connect() as conn:
            order_id, customer_id = (await conn.execute(select(orders.c.id, orders.c.customer_id))).one()
        subject = Subject("nps", customer_id, order_id)

        async def answer(via: str, score: int, comment: str | None = None) -> None:
            await record(runtime.intake, runtime.engine, runtime.renderer, store, "https://ao.example", subject,
                         clock.now(), score=score, via=via, comment=comment)  # type: ignore[arg-type]

        for score in (0, 1, 2, 3):  # a scanner opens every button within a second or two
            await answer("click", score)
            clock.advance(0.3)
        score, answered, _, alerts = await _state(runtime, store.id)
        assert score is None and alerts == [], "a burst of different scores records nothing and alerts nobody"

        clock.advance(60)
        await answer("click", 3)
        await answer("click", 3)  # the same click again changes nothing
        score, answered, props, alerts = await _state(runtime, store.id)
        assert score == 3 and answered[-1] == {"survey": "nps", "score": 3, "revision": answered[-1]["revision"]}
        assert props["nps_score"] == 3
        assert [(a.recipient, a.status) for a in alerts] == [("support@kumo.example", "queued")]
        assert alerts[0].next_attempt_at > clock.now(), "the alert waits a little, in case the answer changes"

        await answer("form", 8, "Actually it was fine")
        score, answered, _, alerts = await _state(runtime, store.id)
        assert score == 8 and answered[-1]["comment"] == "Actually it was fine"
        assert alerts == [], "no longer a detractor: the waiting alert is withdrawn"


async def test_profile_answers_become_properties_segments_can_ask_about(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        store, _ = await add_store(runtime)
        first = order_event("order.delivered", "P1", T0, email="a@example.jp")
        first["customer"]["properties"] = {"vip_note": "gift wrap"}
        second = order_event("order.delivered", "P2", T0, email="b@example.jp")
        await runtime.intake.ingest(store, [Event.model_validate(first), Event.model_validate(second)])
        async with runtime.engine.connect() as conn:
            ids = {r.email: r.id for r in await conn.execute(select(customers.c.email, customers.c.id))}
        await record(runtime.intake, runtime.engine, runtime.renderer, store, "https://ao.example",
                     Subject("profile", ids["a@example.jp"], None), clock.now(),
                     answers={"size": "M", "interests": ["tea", "ceramics"]})
        async with runtime.engine.begin() as conn:
            props = (await conn.execute(select(customers.c.properties).where(
                customers.c.id == ids["a@example.jp"]))).scalar()
            assert props["size"] == "M" and props["vip_note"] == "gift wrap", "answers merge into the profile"
            for slug, condition in (("size-m", {"field": "customer.properties.size", "op": "eq", "value": "M"}),
                                    ("answered", {"field": "customer.properties.profile_answered_at", "op": "exists"}),
                                    ("not-answered", {"field": "customer.properties.profile_answered_at",
                                                      "op": "exists", "value": False})):
                segment = await membership.define(conn, store, slug, condition, clock.now())
                assert await membership.count(conn, store, segment, clock.now()) == 1, slug


@pytest.mark.parametrize(("key", "data", "named"), [
    ("ugc", {"platform": "Instagram", "hashtag": "kumotea"}, "hashtag"),
    ("how-to", {"categories": {"tea": []}}, "categories.tea"),
    ("profile-survey", {"questions": [{"key": "size", "label": "Size", "type": "slider"}]}, "questions.0.type"),
    ("recipes", {}, "unknown content 'recipes'"),
])
def test_a_wrong_content_document_is_refused_naming_the_field(key: str, data: Any, named: str) -> None:
    with pytest.raises(ContentError, match=named.replace(".", r"\.")):
        validate(key, data)

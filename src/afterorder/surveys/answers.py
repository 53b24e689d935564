"""Survey answers (NPS, the profile survey): stored once per (survey, subject), turned into a
``survey.answered`` event through ``Intake.ingest`` so flows can wait for and branch on them, and into
customer properties (``nps_score``, the profile answers) so segments can use them.

A detractor's answer (0–6) also notifies the store: one mail per order to the ``nps`` content's
``notify_email`` (else the store's support address), written to the outbox like every other message,
due ``ALERT_DELAY`` later: an answer changed meanwhile re-writes it, or withdraws it when no longer a
detractor's.

Mail scanners open every link of a message (all eleven NPS buttons within seconds).  So a click
(GET) that gives another score than the one recorded by a click less than ``BURST`` ago is taken for
a scanner: the answer is cleared and clicks are ignored until ``BURST`` has passed without one.  The
landing page's form (a POST, which scanners do not send) always records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.email.mime import build_email, message_id_for
from afterorder.content import Renderer
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from afterorder.content.store_content import StoreContent, load_content
from afterorder.db.schema import customers, orders, outbox, outbox_bodies, survey_answers
from afterorder.db.stores import StoreRow
from afterorder.delivery.outbox import OutboxMessage, write_messages
from afterorder.domain import Event, EventType
from afterorder.flows.facts import load_order
from afterorder.intake.pipeline import Intake

DETRACTOR_MAX = 6
PROMOTER_MIN = 9
ALERT_TEMPLATE = "nps-store-alert"
ALERT_DELAY = timedelta(minutes=10)
BURST = timedelta(seconds=30)
Via = Literal["click", "form"]


@dataclass(frozen=True)
class Subject:
    survey: str
    customer_id: int
    order_id: int | None

    @property
    def key(self) -> str:
        return f"order:{self.order_id}" if self.order_id is not None else f"customer:{self.customer_id}"


@dataclass(frozen=True)
class Recorded:
    changed: bool
    revision: int


async def customer_row(conn: AsyncConnection, store_id: int, customer_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(customers).where(customers.c.store_id == store_id,
                                                      customers.c.id == customer_id))).mappings().first()
    return dict(row) if row else None


async def current(conn: AsyncConnection, store_id: int, subject: Subject) -> dict[str, Any] | None:
    row = (await conn.execute(select(survey_answers).where(
        survey_answers.c.store_id == store_id, survey_answers.c.survey == subject.survey,
        survey_answers.c.subject == subject.key))).mappings().first()
    return dict(row) if row else None


_BOOKKEEPING = ("revision", "via", "burst_until")


async def _save(conn: AsyncConnection, store_id: int, subject: Subject, score: int | None,
                answers: Mapping[str, Any], comment: str | None, now: datetime, via: Via) -> Recorded:
    found = await current(conn, store_id, subject)
    if found is None:
        await conn.execute(survey_answers.insert().values(
            store_id=store_id, survey=subject.survey, subject=subject.key, customer_id=subject.customer_id,
            order_id=subject.order_id, score=score, answers={**answers, "revision": 1, "via": via}, comment=comment,
            created_at=now, updated_at=now))
        return Recorded(True, 1)
    kept = found["answers"]
    revision = int(kept.get("revision", 1))
    burst_until = datetime.fromisoformat(kept["burst_until"]) if kept.get("burst_until") else None
    extra: dict[str, Any] = {}
    if via == "click" and burst_until is not None and now < burst_until:
        score, extra = None, {"burst_until": (now + BURST).isoformat()}  # a scanner is still at it
    elif via == "click" and kept.get("via") == "click" and found["score"] is not None and found["score"] != score \
            and now - found["updated_at"] < BURST:
        score, extra = None, {"burst_until": (now + BURST).isoformat()}  # two scores within seconds: a scanner
    same = found["score"] == score and {k: v for k, v in kept.items() if k not in _BOOKKEEPING} == dict(answers) \
        and (comment is None or comment == found["comment"])
    await conn.execute(survey_answers.update().where(survey_answers.c.id == found["id"]).values(
        score=score, answers={**answers, **extra, "revision": revision if same else revision + 1, "via": via},
        comment=comment if comment is not None else found["comment"], updated_at=now))
    return Recorded(not same, revision if same else revision + 1)


async def record(intake: Intake, engine: Any, renderer: Renderer, store: StoreRow, base_url: str, subject: Subject,
                 now: datetime, *, score: int | None = None, answers: Mapping[str, Any] | None = None,
                 comment: str | None = None, via: Via = "form") -> Recorded:
    """Store an answer; when it changed, send the ``survey.answered`` event (with the customer's merged
    properties) and, for a detractor, the store's alert.  Answering the same again changes nothing."""
    answers = dict(answers or {})
    async with engine.begin() as conn:
        customer = await customer_row(conn, store.id, subject.customer_id)
        if customer is None:
            raise LookupError("no such customer")
        order_external = None
        if subject.order_id is not None:
            order_external = (await conn.execute(select(orders.c.external_id).where(
                orders.c.store_id == store.id, orders.c.id == subject.order_id))).scalar()
            if order_external is None:
                raise LookupError("no such order")
        recorded = await _save(conn, store.id, subject, score, answers, comment, now, via)
        stored = await current(conn, store.id, subject)
        score = stored["score"] if stored else score
    if not recorded.changed:
        return recorded
    properties = dict(customer.get("properties") or {})
    if subject.survey == "nps":
        properties.update(nps_score=score, nps_answered_at=now.isoformat() if score is not None else None)
    if subject.survey == "profile":
        properties.update(answers)
        properties["profile_answered_at"] = now.isoformat()
    event_props: dict[str, Any] = {"survey": subject.survey, "revision": recorded.revision}
    if score is not None:
        event_props["score"] = score
    if answers:
        event_props["answers"] = answers
    if comment:
        event_props["comment"] = comment[:2000]
    payload: dict[str, Any] = {
        "id": f"survey:{subject.survey}:{subject.key}:{recorded.revision}", "type": EventType.SURVEY_ANSWERED.value,
        "occurred_at": now.isoformat(), "customer": {"id": customer["external_id"], "properties": properties},
        "properties": event_props,
    }
    if order_external is not None:
        payload["order"] = {"id": order_external}
    await intake.ingest(store, [Event.model_validate(payload)], source="survey")
    if subject.survey == "nps" and subject.order_id is not None:
        async with engine.begin() as conn:
            await _alert_store(conn, renderer, store, base_url, subject, customer, score, now)
    return recorded


async def _alert_store(conn: AsyncConnection, renderer: Renderer, store: StoreRow, base_url: str, subject: Subject,
                       customer: dict[str, Any], score: int | None, now: datetime) -> None:
    """Keep the store's alert for this order in step with the answer: (re)written while it waits to
    go out, withdrawn when the answer is no longer a detractor's; never a second one once sent."""
    key = f"nps-alert:{subject.key}"
    sent = (await conn.execute(select(outbox.c.status).where(
        outbox.c.store_id == store.id, outbox.c.idempotency_key == key))).scalar()
    if sent is not None and sent != "queued":
        return
    waiting = (outbox.c.store_id == store.id) & (outbox.c.idempotency_key == key) & (outbox.c.status == "queued")
    await conn.execute(outbox.delete().where(waiting))
    await conn.execute(outbox_bodies.delete().where(outbox_bodies.c.store_id == store.id,
                                                    outbox_bodies.c.idempotency_key == key))
    if score is None or score > DETRACTOR_MAX:
        return
    comment = ((await current(conn, store.id, subject)) or {}).get("comment")
    content: StoreContent = (await load_content(conn, {store.id}))[store.id]
    recipient = content.nps.notify_email or store.support_email or store.reply_to
    snapshot = store.snapshot(base_url)
    order = await load_order(conn, store.id, subject.order_id)
    rendered = renderer.render(ALERT_TEMPLATE, store.locale, store=snapshot, customer=customer_snapshot(customer),
                               order=order_snapshot(order), extra={"score": score, "comment": comment or "",
                                                                   "customer_email": customer.get("email") or ""})
    message_id = message_id_for(snapshot, key)
    data = build_email(snapshot, to=recipient, rendered=rendered, message_id=message_id, category="transactional",
                       date=now)
    await write_messages(conn, [OutboxMessage(
        store_id=store.id, idempotency_key=key, message_id=message_id, category="transactional",
        template=ALERT_TEMPLATE, order_id=subject.order_id, envelope_from=store.email_from, locale=store.locale,
        recipient=recipient, subject=rendered.subject, data=data.decode("utf-8"), created_at=now,
        next_attempt_at=now + ALERT_DELAY)])

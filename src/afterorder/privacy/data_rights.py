"""Data rights: everything held about one customer (export), and removing their personal data
(erase) while keeping the aggregates a store reports on.

Erasing a customer:

* the profile keeps its row and the store's id for it; email, phone and names become ``NULL``;
* their orders keep number, totals, status and dates; shipping and billing addresses go;
* their events (and any other event of the store that names their email address, such as a
  bounce) keep type and time; personal fields of the payload are blanked and the raw payload is
  dropped;
* the messages sent to them keep template, status and times; recipient and subject are blanked,
  the message bytes deleted, queued ones skipped; delivery attempt details (which can quote the
  address) are blanked;
* engagement rows keep kind and time; IP address and user agent go;
* suppression rows for the address (and the phone number) keep their hash, reason and source, so
  the address can still not be mailed; the address itself (and the detail, which can quote it) goes;
* their waiting flow runs end;
* their LINE user id goes, with any unfinished or finished account link (``line_links``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.suppression import address_hash
from afterorder.db.schema import (
    attributions,
    consent_changes,
    consents,
    customers,
    delivery_attempts,
    engagements,
    events,
    flow_runs,
    line_links,
    metadata,
    order_lines,
    orders,
    outbox,
    outbox_bodies,
    run_log,
    suppressions,
    survey_answers,
)

ERASED = "[erased]"
ERASED_REASON = "customer erased"
PERSONAL_KEYS = frozenset({"email", "phone", "first_name", "last_name", "name", "company", "line1", "line2", "address1",
                           "address2", "city", "zip", "postal_code", "region", "province", "recipient", "ip",
                           "user_agent"})
# Profile answers: removed whole, whatever their shape (a survey's answers are a mapping, tags a list).
PERSONAL_WHOLE = frozenset({"birth_date", "gender", "life_stage", "occupation", "tags", "properties"})
_HANDLED = {"customers", "orders", "order_lines", "events", "outbox", "outbox_bodies", "delivery_attempts",
            "engagements", "attributions", "suppressions", "flow_runs", "run_log"}


class NoSuchCustomer(LookupError):
    """The store has no customer with that id."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(result: Iterable[Any], drop: tuple[str, ...] = ("store_id",)) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in dict(r).items() if k not in drop} for r in result]


async def _customer(conn: AsyncConnection, store_id: int, external_id: str) -> Any:
    row = (await conn.execute(select(customers).where(customers.c.store_id == store_id,
                                                      customers.c.external_id == external_id))).mappings().first()
    if row is None:
        raise NoSuchCustomer(f"no customer with id {external_id!r} in this store")
    return row


async def _scope(conn: AsyncConnection, store_id: int, customer: Any) -> tuple[list[int], list[int], list[str]]:
    """The customer's order ids, outbox ids and outbox idempotency keys."""
    order_ids = [r.id for r in await conn.execute(select(orders.c.id).where(
        orders.c.store_id == store_id, orders.c.customer_id == customer["id"]))]
    mine = outbox.c.customer_id == customer["id"]
    if customer["email"]:
        mine = or_(mine, func.lower(outbox.c.recipient) == customer["email"].strip().lower())
    sent = (await conn.execute(select(outbox.c.id, outbox.c.idempotency_key).where(
        outbox.c.store_id == store_id, mine))).all()
    return order_ids, [r.id for r in sent], [r.idempotency_key for r in sent]


def _event_filter(store_id: int, customer: Any, order_ids: list[int]) -> Any:
    clauses = [events.c.customer_id == customer["id"]]
    if order_ids:
        clauses.append(events.c.order_id.in_(order_ids))
    email = (customer["email"] or "").strip().lower()
    if email:
        for pattern in {email, json.dumps(email)[1:-1].lower()}:
            clauses.append(func.lower(cast(events.c.payload, Text)).contains(pattern, autoescape=True))
            clauses.append(func.lower(cast(events.c.raw, Text)).contains(pattern, autoescape=True))
    return (events.c.store_id == store_id) & or_(*clauses)


async def export_customer(conn: AsyncConnection, store_id: int, external_id: str) -> dict[str, Any]:
    """Everything held about the customer, as JSON-ready data."""
    customer = await _customer(conn, store_id, external_id)
    order_ids, outbox_ids, keys = await _scope(conn, store_id, customer)
    in_store = store_id

    async def where(table: Table, *conditions: Any) -> list[dict[str, Any]]:
        return _rows((await conn.execute(select(table).where(table.c.store_id == in_store, *conditions)
                                         .order_by(*table.primary_key.columns))).mappings())

    lines = await where(order_lines, order_lines.c.order_id.in_(order_ids)) if order_ids else []
    order_rows = await where(orders, orders.c.id.in_(order_ids)) if order_ids else []
    for order in order_rows:
        order["lines"] = [line for line in lines if line["order_id"] == order["id"]]
    bodies = {b["idempotency_key"]: b["data"] for b in await where(outbox_bodies, outbox_bodies.c.idempotency_key
                                                                      .in_(keys))} if keys else {}
    messages = await where(outbox, outbox.c.id.in_(outbox_ids)) if outbox_ids else []
    for message in messages:
        message["body"] = bodies.get(message["idempotency_key"])
    hashes = [address_hash(a) for a in (customer["email"], customer["phone"]) if a]  # the phone: SMS suppressions
    found: dict[str, Any] = {
        "customer": _rows([customer])[0],
        "orders": order_rows,
        "events": await where(events, _event_filter(store_id, customer, order_ids)),
        "messages": messages,
        "delivery_attempts": await where(delivery_attempts, delivery_attempts.c.outbox_id.in_(outbox_ids))
        if outbox_ids else [],
        "engagements": await where(engagements, or_(engagements.c.customer_id == customer["id"],
                                                    engagements.c.outbox_id.in_(outbox_ids or [-1]))),
        "attributions": await where(attributions, attributions.c.order_id.in_(order_ids)) if order_ids else [],
        "suppressions": await where(suppressions, suppressions.c.address_hash.in_(hashes)) if hashes else [],
        "flow_runs": await where(flow_runs, flow_runs.c.customer_id == customer["id"]),
    }
    for table in metadata.sorted_tables:  # anything else kept per customer (consent records, ...)
        if table.name not in _HANDLED and "customer_id" in table.c and "store_id" in table.c:
            found[table.name] = await where(table, table.c.customer_id == customer["id"])
    return found


def scrub(value: Any, needles: list[str]) -> Any:
    """``value`` with personal keys blanked and any string naming the customer replaced."""
    if isinstance(value, dict):
        return {k: (None if (k in PERSONAL_KEYS and v is not None and not isinstance(v, (dict, list)))
                    or k in PERSONAL_WHOLE else scrub(v, needles)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, needles) for v in value]
    if isinstance(value, str) and any(n in value.lower() for n in needles):
        return ERASED
    return value


async def erase_customer(conn: AsyncConnection, store_id: int, external_id: str, now: datetime) -> dict[str, int]:
    """Remove the customer's personal data (see the module docstring); returns what was touched."""
    customer = await _customer(conn, store_id, external_id)
    order_ids, outbox_ids, keys = await _scope(conn, store_id, customer)
    needles = [n.strip().lower() for n in (customer["email"], customer["phone"], customer["first_name"],
                                           customer["last_name"]) if n and len(n.strip()) >= 2]
    touched: dict[str, int] = {}
    found = (await conn.execute(select(events.c.id, events.c.payload).where(
        _event_filter(store_id, customer, order_ids)))).all()
    for row in found:
        await conn.execute(events.update().where(events.c.id == row.id).values(
            payload=scrub(row.payload, needles), raw=None))
    touched["events"] = len(found)
    if order_ids:
        touched["orders"] = (await conn.execute(orders.update().where(
            orders.c.store_id == store_id, orders.c.id.in_(order_ids)).values(
            shipping_address=None, billing_address=None, updated_at=now))).rowcount
    if outbox_ids:
        await conn.execute(outbox.update().where(outbox.c.id.in_(outbox_ids), outbox.c.status == "queued").values(
            status="skipped", last_error=ERASED_REASON))
        touched["messages"] = (await conn.execute(outbox.update().where(
            outbox.c.store_id == store_id, outbox.c.id.in_(outbox_ids)).values(recipient="", subject=""))).rowcount
        await conn.execute(outbox_bodies.delete().where(outbox_bodies.c.store_id == store_id,
                                                        outbox_bodies.c.idempotency_key.in_(keys)))
        await conn.execute(delivery_attempts.update().where(
            delivery_attempts.c.store_id == store_id, delivery_attempts.c.outbox_id.in_(outbox_ids)).values(detail=""))
    touched["engagements"] = (await conn.execute(engagements.update().where(
        engagements.c.store_id == store_id, or_(engagements.c.customer_id == customer["id"],
                                                engagements.c.outbox_id.in_(outbox_ids or [-1])),
    ).values(ip=None, user_agent=None))).rowcount
    hashes = [address_hash(a) for a in (customer["email"], customer["phone"]) if a]  # the phone: SMS suppressions
    if hashes:
        touched["suppressions"] = (await conn.execute(suppressions.update().where(
            suppressions.c.store_id == store_id, suppressions.c.address_hash.in_(hashes),
        ).values(address=None, detail=""))).rowcount
    ended = (await conn.execute(select(flow_runs.c.id, flow_runs.c.step).where(
        flow_runs.c.store_id == store_id, flow_runs.c.customer_id == customer["id"],
        flow_runs.c.status == "waiting"))).all()
    if ended:
        await conn.execute(flow_runs.update().where(flow_runs.c.id.in_([r.id for r in ended])).values(
            status="exited", outcome=ERASED_REASON, wake_at=None, waiting_for=None, claimed_by=None,
            claimed_until=None, updated_at=now))
        await conn.execute(run_log.insert(), [{"store_id": store_id, "run_id": r.id, "at": now, "step": r.step,
                                               "kind": "exited", "detail": ERASED_REASON} for r in ended])
    touched["flow_runs_ended"] = len(ended)
    # The consent record stays (when, how, the wording shown: the proof a sender must keep), without the
    # address it was given from; no consent survives the erasure.
    touched["consent_changes"] = (await conn.execute(consent_changes.update().where(
        consent_changes.c.store_id == store_id, consent_changes.c.customer_id == customer["id"]).values(
        source_ip=None))).rowcount
    await conn.execute(consents.update().where(
        consents.c.store_id == store_id, consents.c.customer_id == customer["id"]).values(
        status="withdrawn", updated_at=now))
    # Survey answers keep their score (the store's NPS stays right) without the profile answers or comment.
    touched["survey_answers"] = (await conn.execute(survey_answers.update().where(
        survey_answers.c.store_id == store_id, survey_answers.c.customer_id == customer["id"]).values(
        answers={}, comment=None, updated_at=now))).rowcount
    touched["line_links"] = (await conn.execute(line_links.delete().where(
        line_links.c.store_id == store_id, line_links.c.customer_id == customer["id"]))).rowcount
    await conn.execute(customers.update().where(customers.c.id == customer["id"]).values(
        email=None, phone=None, first_name=None, last_name=None, region=None, city=None, birth_date=None,
        gender=None, life_stage=None, occupation=None, tags=None, tag_list=None, properties=None,
        accepts_marketing=False, line_user_id=None, line_following=None, updated_at=now))
    touched["customers"] = 1
    return touched

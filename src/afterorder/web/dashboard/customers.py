"""Customers (search; one customer's profile, statistics, predictions, consent history, delivery notes,
messages and runs) and segments (defined in the condition language, with a live member count)."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Request
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import JSONResponse, RedirectResponse, Response

from afterorder.audit.log import Action, Change, record
from afterorder.compliance.consent import history
from afterorder.db.schema import customer_predictions, customer_stats, customers, events, flow_runs, orders, outbox
from afterorder.domain import EventType
from afterorder.flows.conditions import ConditionError, parse_condition
from afterorder.segments import membership
from afterorder.segments.membership import Segment, SegmentError
from afterorder.web.dashboard import locale, wording
from afterorder.web.dashboard.access import page_error, render, runtime_of, viewer
from afterorder.web.dashboard.audit import source_of
from afterorder.web.dashboard.locale import N_, _

router = APIRouter(include_in_schema=False)
MAX_RESULTS = 50
MAX_DEFINITION = 20_000


@router.get("/dashboard/{slug}/customers")
async def customers_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    query = request.query_params.get("q", "").strip()[:200]
    found: list[dict[str, Any]] = []
    if query:
        like = f"%{query.lower()}%"
        name = func.lower(func.coalesce(customers.c.first_name, "") + " " + func.coalesce(customers.c.last_name, ""))
        matches = [func.lower(func.coalesce(customers.c.email, "")).like(like), name.like(like),
                   customers.c.external_id == query, cast(customers.c.id, String) == query]
        async with runtime_of(request).engine.connect() as conn:
            rows = await conn.execute(
                select(customers.c.id, customers.c.external_id, customers.c.email, customers.c.first_name,
                       customers.c.last_name, customers.c.country,
                       func.coalesce(customer_stats.c.order_count, 0).label("order_count"),
                       customer_stats.c.total_spent)
                .select_from(customers.outerjoin(customer_stats, (customer_stats.c.store_id == customers.c.store_id)
                                                 & (customer_stats.c.customer_id == customers.c.id)))
                .where(customers.c.store_id == who.store.id, or_(*matches))
                .order_by(customers.c.id).limit(MAX_RESULTS))
            found = [dict(r) for r in rows.mappings()]
    return render(request, who, "customers.html", title=_("Customers"), query=query, found=found)


@router.get("/dashboard/{slug}/customers/{customer_id}")
async def customer_page(request: Request, slug: str, customer_id: str) -> Response:
    who = await viewer(request, slug)
    if not customer_id.isdigit():
        raise page_error(404, _("no customer {id}").format(id=repr(customer_id)))
    cid = int(customer_id)
    async with runtime_of(request).engine.connect() as conn:
        profile = (await conn.execute(select(customers).where(customers.c.store_id == who.store.id,
                                                              customers.c.id == cid))).mappings().first()
        if profile is None:
            raise page_error(404, _("no customer {id}").format(id=repr(customer_id)))
        stats = (await conn.execute(select(customer_stats).where(
            customer_stats.c.store_id == who.store.id, customer_stats.c.customer_id == cid))).mappings().first()
        prediction = (await conn.execute(select(customer_predictions).where(
            customer_predictions.c.store_id == who.store.id,
            customer_predictions.c.customer_id == cid))).mappings().first()
        consents = await history(conn, who.store.id, cid)
        messages = (await conn.execute(
            select(outbox.c.id, outbox.c.template, outbox.c.locale, outbox.c.subject, outbox.c.status,
                   outbox.c.last_error, outbox.c.created_at, outbox.c.sent_at, flow_runs.c.flow_id)
            .select_from(outbox.outerjoin(flow_runs, flow_runs.c.id == outbox.c.run_id))
            .where(outbox.c.store_id == who.store.id, outbox.c.customer_id == cid)
            .order_by(outbox.c.id.desc()).limit(500))).mappings().all()
        runs = (await conn.execute(
            select(flow_runs.c.id, flow_runs.c.flow_id, flow_runs.c.status, flow_runs.c.step, flow_runs.c.wake_at,
                   flow_runs.c.outcome, flow_runs.c.started_at, flow_runs.c.order_id)
            .where(flow_runs.c.store_id == who.store.id, flow_runs.c.customer_id == cid)
            .order_by(flow_runs.c.id.desc()).limit(500))).mappings().all()
        notes = await delivery_notes(conn, who.store.id, cid)
    return render(request, who, "customer.html", title=profile["email"] or profile["external_id"], profile=profile,
                  stats=stats, prediction=prediction, consents=consents, messages=messages, runs=runs, notes=notes,
                  shown=lambda value: locale.shown(value, who.zone),
                  flow_names={k: wording.flow_name(v) for k, v in runtime_of(request).catalog.flows_for(slug).items()})


async def delivery_notes(conn: AsyncConnection, store_id: int, customer_id: int) -> list[dict[str, Any]]:
    """The customer's delivery notes (``order.delivery_note`` events), newest first, each with its order's
    number and whether it is the one in force for that order."""
    rows = (await conn.execute(
        select(events.c.payload, events.c.occurred_at, events.c.order_id, orders.c.number)
        .select_from(events.outerjoin(orders, (orders.c.store_id == events.c.store_id)
                                      & (orders.c.id == events.c.order_id)))
        .where(events.c.store_id == store_id, events.c.customer_id == customer_id,
               events.c.type == EventType.ORDER_DELIVERY_NOTE.value)
        .order_by(events.c.occurred_at.desc(), events.c.id.desc()).limit(200))).all()
    seen: set[int | None] = set()
    found = []
    for row in rows:
        props = (row.payload or {}).get("properties") or {}
        found.append({"order": row.number, "at": row.occurred_at, "choice": str(props.get("choice", "")),
                      "window": str(props.get("window", "")), "text": str(props.get("text", "")),
                      "current": row.order_id not in seen})
        seen.add(row.order_id)
    return found


# segments/membership.py's problems with the form, by their English wording (the condition
# language's own errors, with the path of the part at fault, stay as they are)
PROBLEMS = {text: text for text in (N_("slug: use lowercase letters, digits and '-' (at most 63)"),)}


def problem_text(problem: str) -> str:
    return _(PROBLEMS[problem]) if problem in PROBLEMS else problem


def _definition(text: str) -> Any:
    if not text.strip():
        raise SegmentError(_("definition: write a condition, e.g. {example}").format(
            example="{field: stats.order_count, op: '>=', value: 2}"))
    if len(text) > MAX_DEFINITION:
        raise SegmentError(_("definition: longer than {n} characters").format(n=locale.number(MAX_DEFINITION)))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        why = getattr(exc, "problem", None) or exc
        if mark is not None:
            raise SegmentError(_("definition: line {line}: not YAML or JSON ({why})").format(
                line=mark.line + 1, why=why)) from None
        raise SegmentError(_("definition: not YAML or JSON ({why})").format(why=why)) from None


@router.get("/dashboard/{slug}/segments")
async def segments_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.engine.connect() as conn:
        listed = [(s, await membership.count(conn, who.store, s, now))
                  for s in await membership.listing(conn, who.store)]
    return render(request, who, "segments.html", title=_("Segments"), segments=listed,
                  yaml_of=lambda d: yaml.safe_dump(d, allow_unicode=True, sort_keys=False))


@router.get("/dashboard/{slug}/segments/count")
async def segment_count(request: Request, slug: str) -> Response:
    """The live member count of a definition being written (not saved)."""
    who = await viewer(request, slug)
    runtime = runtime_of(request)
    try:
        definition = _definition(request.query_params.get("definition", ""))
        condition = parse_condition(definition)
        async with runtime.engine.connect() as conn:
            found = await membership.count(conn, who.store, Segment("draft", "draft", definition, condition),
                                           runtime.clock.now())
    except (SegmentError, ConditionError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"count": found})


@router.post("/dashboard/{slug}/segments")
async def segment_save(request: Request, slug: str) -> Response:
    who = await viewer(request, slug, needs="edit")
    runtime = runtime_of(request)
    try:
        definition = _definition(who.form.get("definition", ""))
        async with runtime.engine.begin() as conn:
            saved = await membership.define(conn, who.store, who.form.get("slug", "").strip(), definition,
                                            runtime.clock.now(), who.form.get("name", "").strip() or None)
            await record(conn, who.store.id, source_of(request, who), Change(
                Action.SEGMENT_SAVED, saved.slug, {"name": saved.name}), runtime.clock.now())
    except (SegmentError, ConditionError) as exc:
        raise page_error(400, problem_text(str(exc))) from None
    return RedirectResponse(f"/dashboard/{slug}/segments", status_code=303)

"""The REST API: event ingest (``POST /api/v1/events``) and the admin reads.

An event request is refused whole at the first of ``afterorder.intake.limits`` it breaks: a body
over the size limit with 413, a body nested too deep or a field out of bounds (each named) with
422, in the error shape of ``web/errors.py``; nothing of it is stored."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from sqlalchemy import select
from starlette.responses import JSONResponse, Response

from afterorder.db.schema import delivery_attempts, flow_runs, outbox
from afterorder.db.stores import StoreRow, store_for_api_key
from afterorder.domain import Event, EventBatch
from afterorder.intake.horizon import Horizon, ahead_problems
from afterorder.intake.limits import MAX_BODY_BYTES, MAX_EVENTS, MAX_JSON_DEPTH, Refused, read_json
from afterorder.runtime import Runtime
from afterorder.web.body_limit import too_large as body_too_large
from afterorder.web.errors import error, validation_details

router = APIRouter(prefix="/api/v1")


class ApiError(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def current_store(request: Request) -> StoreRow:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(error(401, "unauthorized", "send the store's API key as 'Authorization: Bearer <key>'",
                             headers={"WWW-Authenticate": "Bearer"}))
    store = await _store_for_key(request, token.strip())
    if store is None:
        raise ApiError(error(401, "unauthorized", "unknown API key", headers={"WWW-Authenticate": "Bearer"}))
    return store


KEY_CACHE_SECONDS = 30.0


async def _store_for_key(request: Request, api_key: str) -> StoreRow | None:
    """Known keys are remembered for a few seconds: the lookup is on every request."""
    runtime = runtime_of(request)
    cache: dict[str, tuple[StoreRow, float]] = request.app.state.key_cache
    now = time.monotonic()
    hit = cache.get(api_key)
    if hit is not None and hit[1] > now:
        return hit[0]
    async with runtime.engine.connect() as conn:
        store = await store_for_api_key(conn, api_key)
    if store is not None:
        if len(cache) > 10_000:
            cache.clear()
        cache[api_key] = (store, now + KEY_CACHE_SECONDS)
    return store


StoreDep = Annotated[StoreRow, Depends(current_store)]


async def read_limited(request: Request) -> bytes:
    """The body, refused with 413 past the runtime's ``max_body_bytes`` (declared or streamed)."""
    limit = runtime_of(request).settings.max_body_bytes
    too_large = body_too_large(limit)  # worded as the body limit layer words it (web.body_limit)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(error(413, "too_large", too_large))
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(error(413, "too_large", too_large))
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """The body's JSON: 400 when it is not JSON, 422 when it is nested too deep (``limits.read_json``)."""
    try:
        return read_json(body)
    except Refused as exc:
        raise ApiError(error(400 if exc.code == "invalid_json" else 422, exc.code, exc.message)) from None


def parse_events(body: bytes, now: datetime, horizon: Horizon = Horizon()) -> tuple[list[Event], list[Any]]:
    """One event or a batch, validated; the times in them checked against ``now``."""
    data = parse_json(body)
    batched = isinstance(data, dict) and "events" in data
    try:
        if batched:
            events = EventBatch.model_validate(data).events
            raw = list(data["events"])
        else:
            events, raw = [Event.model_validate(data)], [data]
    except ValidationError as exc:
        details = validation_details(exc)
        fields = ", ".join(d["field"] for d in details)
        raise ApiError(error(422, "invalid_event", f"invalid field(s): {fields}", details=details)) from None
    ahead = [d for i, event in enumerate(events)
             for d in ahead_problems(event, now, horizon, ("events", i) if batched else ())]
    if ahead:
        fields = ", ".join(d["field"] for d in ahead)
        raise ApiError(error(422, "invalid_event", f"invalid field(s): {fields}", details=ahead))
    return events, raw


EVENT_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": "#/components/schemas/Event"}, {"$ref": "#/components/schemas/EventBatch"}]}}},
}


def events_description(max_body_bytes: int = MAX_BODY_BYTES) -> str:
    """The events route's description, with the body limit the server runs with."""
    return (f"One event, or `{{\"events\": [...]}}` (at most {MAX_EVENTS:,}). The body may be at most "
            f"{max_body_bytes:,} bytes (413 past it) and nested at most {MAX_JSON_DEPTH} levels deep; every field "
            "is bounded as the schema says (lengths, counts, numbers as the database keeps them, times from 1970 to "
            "a day ahead of the server's clock), and a request past any limit is answered 422 naming the field and "
            "stores nothing. The same `id` twice is stored once and answered 200 both times. A batch is stored "
            "whole or not at all.")


@router.post(
    "/events",
    summary="Send one event or a batch",
    description=events_description(),
    openapi_extra={"requestBody": EVENT_BODY},
    responses={200: {"description": "accepted"}, 400: {"description": "the body is not JSON"},
               401: {"description": "wrong or missing API key"},
               413: {"description": "body over the size limit (see the description)"},
               422: {"description": "nested too deep, or invalid fields, each named with the limit it breaks"}},
)
async def post_events(request: Request, store: StoreDep) -> JSONResponse:
    body = await read_limited(request)
    runtime = runtime_of(request)
    batch, raw = parse_events(body, runtime.clock.now(), runtime.settings.horizon)
    results = await runtime.intake.ingest(store, batch, source="api", raw=raw)
    return JSONResponse({"accepted": [r.as_json() for r in results]})


@router.get("/outbox", summary="Messages queued and sent, with every delivery attempt")
async def list_outbox(request: Request, store: StoreDep, status: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    async with runtime_of(request).engine.connect() as conn:
        query = select(outbox.c.id, outbox.c.message_id, outbox.c.template, outbox.c.locale, outbox.c.category,
                       outbox.c.recipient, outbox.c.subject, outbox.c.status, outbox.c.attempts,
                       outbox.c.next_attempt_at, outbox.c.last_error, outbox.c.created_at, outbox.c.sent_at
                       ).where(outbox.c.store_id == store.id)
        if status:
            query = query.where(outbox.c.status == status)
        rows = [dict(r) for r in (await conn.execute(query.order_by(outbox.c.id.desc()).limit(limit))).mappings()]
        ids = [r["id"] for r in rows]
        attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for a in (await conn.execute(select(delivery_attempts).where(
                    delivery_attempts.c.store_id == store.id, delivery_attempts.c.outbox_id.in_(ids))
                    .order_by(delivery_attempts.c.attempt))).mappings():
                attempts[a["outbox_id"]].append({k: _json(a[k]) for k in (
                    "attempt", "started_at", "finished_at", "outcome", "code", "detail", "worker")})
    return {"messages": [{**{k: _json(v) for k, v in r.items()}, "attempt_log": attempts[r["id"]]} for r in rows]}


@router.get("/runs", summary="Flow runs of this store")
async def list_runs(request: Request, store: StoreDep, flow: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    async with runtime_of(request).engine.connect() as conn:
        query = select(flow_runs).where(flow_runs.c.store_id == store.id)
        if flow:
            query = query.where(flow_runs.c.flow_id == flow)
        rows = (await conn.execute(query.order_by(flow_runs.c.id.desc()).limit(limit))).mappings()
        return {"runs": [{k: _json(v) for k, v in r.items() if k not in ("claimed_by",)} for r in rows]}


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value

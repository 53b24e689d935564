"""Segments in the admin API: define, count, list members, ask about one customer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from afterorder.audit import sources
from afterorder.audit.log import Action, Change, record
from afterorder.segments import membership
from afterorder.segments.membership import SegmentError
from afterorder.web.api import ApiError, StoreDep, parse_json, read_limited, runtime_of
from afterorder.web.errors import error

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])


def _plain(member: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if k == "total_spent" else v)
            for k, v in member.items()}


@router.get("", summary="Every segment of the store with its member count now")
async def list_segments(request: Request, store: StoreDep) -> dict[str, Any]:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.engine.connect() as conn:
        return {"segments": [{"slug": s.slug, "name": s.name, "condition": s.definition,
                              "count": await membership.count(conn, store, s, now)}
                             for s in await membership.listing(conn, store)]}


@router.put("/{slug}", summary="Create or replace a segment: {\"name\": ..., \"condition\": {...}}")
async def put_segment(slug: str, request: Request, store: StoreDep) -> JSONResponse:
    body = parse_json(await read_limited(request))
    if not isinstance(body, dict) or "condition" not in body or set(body) - {"name", "condition"}:
        raise ApiError(error(422, "invalid_segment", 'send {"name": "...", "condition": {...}}'))
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        try:
            segment = await membership.define(conn, store, slug, body["condition"], now, body.get("name"))
        except SegmentError as exc:
            raise ApiError(error(422, "invalid_segment", str(exc))) from None
        await record(conn, store.id, sources.api_key(request, store.api_key_prefix),
                     Change(Action.SEGMENT_SAVED, segment.slug, {"name": segment.name}), now)
        count = await membership.count(conn, store, segment, now)
    return JSONResponse({"slug": segment.slug, "name": segment.name, "count": count})


async def _segment(store: Any, slug: str, conn: Any) -> membership.Segment:
    try:
        return await membership.get(conn, store, slug)
    except SegmentError as exc:
        raise ApiError(error(404, "not_found", str(exc))) from None


@router.get("/{slug}", summary="A segment and its member count now")
async def get_segment(slug: str, request: Request, store: StoreDep) -> dict[str, Any]:
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        segment = await _segment(store, slug, conn)
        count = await membership.count(conn, store, segment, runtime.clock.now())
    return {"slug": segment.slug, "name": segment.name, "condition": segment.definition, "count": count}


@router.delete("/{slug}", summary="Remove a segment")
async def delete_segment(slug: str, request: Request, store: StoreDep) -> dict[str, Any]:
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        try:
            await membership.remove(conn, store, slug)
        except SegmentError as exc:
            raise ApiError(error(404, "not_found", str(exc))) from None
        await record(conn, store.id, sources.api_key(request, store.api_key_prefix),
                     Change(Action.SEGMENT_REMOVED, slug), runtime.clock.now())
    return {"deleted": slug}


@router.get("/{slug}/members", summary="The members now, in pages")
async def segment_members(slug: str, request: Request, store: StoreDep,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                          offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        segment = await _segment(store, slug, conn)
        found = await membership.members(conn, store, segment, runtime.clock.now(), limit=limit, offset=offset)
    return {"members": [_plain(m) for m in found], "limit": limit, "offset": offset}


@router.get("/{slug}/members/{customer}", summary="Is this customer (the store's id) in the segment now?")
async def segment_member(slug: str, customer: str, request: Request, store: StoreDep) -> dict[str, Any]:
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        segment = await _segment(store, slug, conn)
        try:
            customer_id = await membership.customer_id_for(conn, store, customer)
        except SegmentError as exc:
            raise ApiError(error(404, "not_found", str(exc))) from None
        member = await membership.is_member(conn, store, segment, customer_id, runtime.clock.now())
    return {"segment": slug, "customer": customer, "member": member}

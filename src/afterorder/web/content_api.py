"""``/api/v1/content/KEY``: the per-store content the built-in flows read (see
:mod:`afterorder.content.store_content`): ``PUT`` a JSON document to set it, ``GET`` to read it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import JSONResponse

from afterorder.audit import sources
from afterorder.audit.log import Action, Change, record
from afterorder.content.store_content import DOCUMENTS, ContentError, save_content
from afterorder.db.schema import store_content
from afterorder.web.api import ApiError, StoreDep, parse_json, read_limited, runtime_of
from afterorder.web.errors import error

router = APIRouter(prefix="/api/v1/content", tags=["content"])


@router.put("/{key}", summary="Set one content document of the store (how-to, profile-survey, nps, ...)")
async def put_content(key: str, request: Request, store: StoreDep) -> JSONResponse:
    if key not in DOCUMENTS:
        raise ApiError(error(404, "not_found", f"unknown content {key!r}; known: {', '.join(DOCUMENTS)}"))
    body = parse_json(await read_limited(request))
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        try:
            document = await save_content(conn, store.id, key, body, runtime.clock.now())
        except ContentError as exc:
            raise ApiError(error(422, "invalid_content", str(exc))) from None
        await record(conn, store.id, sources.api_key(request, store.api_key_prefix), Change(Action.CONTENT_SET, key),
                     runtime.clock.now())
    return JSONResponse({"key": key, "content": document.model_dump(mode="json", exclude_none=True)})


@router.get("/{key}", summary="One content document of the store")
async def get_content(key: str, request: Request, store: StoreDep) -> dict[str, Any]:
    async with runtime_of(request).engine.connect() as conn:
        data = (await conn.execute(select(store_content.c.data).where(
            store_content.c.store_id == store.id, store_content.c.key == key))).scalar()
    if data is None:
        raise ApiError(error(404, "not_found", f"the store has no content {key!r}"))
    return {"key": key, "content": data}

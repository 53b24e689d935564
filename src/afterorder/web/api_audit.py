"""``GET /api/v1/audit``: the store's audit log with its API key, newest first, in pages
(``limit``, ``offset``), filtered by ``action`` and ``actor`` (a username, ``key <prefix>…`` or
``cli:<os user>``).  Only the key's own store's entries are ever listed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from afterorder.audit import log
from afterorder.audit.log import Action
from afterorder.web.api import StoreDep, runtime_of

router = APIRouter(prefix="/api/v1", tags=["audit"])


class ActorOut(BaseModel):
    kind: Literal["user", "api_key", "cli"]
    label: str
    user_id: int | None


class OriginOut(BaseModel):
    address: str
    user_agent: str | None


class EntryOut(BaseModel):
    id: int
    at: str
    actor: ActorOut
    action: Action
    target: str
    details: dict[str, str | int | float | bool | None]
    origin: OriginOut


class AuditPage(BaseModel):
    entries: list[EntryOut]
    total: int
    limit: int
    offset: int


@router.get("/audit", response_model=AuditPage,
            summary="Who changed what in the store, when and from where (newest first)",
            responses={401: {"description": "wrong or missing API key"},
                       422: {"description": "an unknown action, or limit/offset out of range"}})
async def list_audit(request: Request, store: StoreDep, action: Action | None = None,
                     actor: Annotated[str | None, Query(max_length=128)] = None,
                     limit: Annotated[int, Query(ge=1, le=log.MAX_PAGE)] = 50,
                     offset: Annotated[int, Query(ge=0)] = 0) -> Any:
    async with runtime_of(request).engine.connect() as conn:
        page = await log.entries(conn, store.id, action=action.value if action else None, actor=actor,
                                 limit=limit, offset=offset)
    return {"entries": [e.as_json() for e in page.entries], "total": page.total, "limit": page.limit,
            "offset": page.offset}

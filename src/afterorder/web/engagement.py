"""``GET /api/v1/engagement``: per flow step and template, messages sent, opened (by people),
opened only by a privacy proxy, clicked, and the orders and revenue attributed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from afterorder.tracking.report import engagement_report
from afterorder.web.api import StoreDep, runtime_of

router = APIRouter(prefix="/api/v1")


@router.get("/engagement", summary="Opens, clicks and attributed revenue per flow step")
async def engagement(request: Request, store: StoreDep, flow: str | None = None) -> dict[str, Any]:
    async with runtime_of(request).engine.connect() as conn:
        return {"messages": await engagement_report(conn, store.id, flow)}

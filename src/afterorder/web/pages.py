"""Operator pages: the flow runs overview (and the page frame the development inbox, ``web/inbox.py``, shares)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from starlette.responses import HTMLResponse, Response

from afterorder.db.schema import flow_runs, stores
from afterorder.runtime import Runtime

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]))


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    """An operator page: ``templates/<name>`` with the clock's time."""
    runtime: Runtime = request.app.state.runtime
    return HTMLResponse(_env.get_template(name).render(now=runtime.clock.now(), **context))


@router.get("/runs")
async def runs_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        slugs = {r.id: r.slug for r in await conn.execute(select(stores.c.id, stores.c.slug))}
        grouped = await conn.execute(
            select(flow_runs.c.store_id, flow_runs.c.flow_id, flow_runs.c.status, flow_runs.c.step,
                   func.count().label("n"))
            .group_by(flow_runs.c.store_id, flow_runs.c.flow_id, flow_runs.c.status, flow_runs.c.step)
        )
        recent = (await conn.execute(select(flow_runs).order_by(flow_runs.c.id.desc()).limit(50))).mappings().all()
    flows: dict[tuple[int, str], dict[str, Any]] = {}
    for row in grouped:
        key = (row.store_id, row.flow_id)
        if key not in flows:
            spec = runtime.catalog.flows.get(row.flow_id)
            labels = [i.label for i in spec.program] if spec else []
            flows[key] = {"id": row.flow_id, "name": spec.name if spec else row.flow_id,
                          "store": slugs.get(row.store_id, row.store_id), "statuses": {},
                          "steps": [{"index": i, "label": lab, "waiting": 0} for i, lab in enumerate(labels)]}
        entry = flows[key]
        entry["statuses"][row.status] = entry["statuses"].get(row.status, 0) + row.n
        if row.status == "waiting" and row.step < len(entry["steps"]):
            entry["steps"][row.step]["waiting"] += row.n
    rows = [{**dict(r), "store": slugs.get(r["store_id"], r["store_id"])} for r in recent]
    return page(request, "runs.html", title="Flow runs", flows=list(flows.values()), recent=rows)

"""The flows page: every flow, on or off, and its steps with the runs waiting and the messages sent
or skipped at each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from afterorder.analytics.flow_status import flow_statuses
from afterorder.audit.log import Action, Change, record
from afterorder.db.schema import store_flows
from afterorder.flows.catalog import FlowRefused
from afterorder.web.dashboard.access import page_error, render, runtime_of, viewer
from afterorder.web.dashboard.audit import source_of
from afterorder.web.dashboard.locale import _

router = APIRouter(include_in_schema=False)


@router.get("/dashboard/{slug}/flows")
async def flows_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    runtime = runtime_of(request)
    specs = runtime.catalog.flows_for(who.store.slug)
    async with runtime.engine.connect() as conn:
        chosen = {r.flow_id: r.enabled for r in await conn.execute(
            select(store_flows.c.flow_id, store_flows.c.enabled).where(store_flows.c.store_id == who.store.id))}
        statuses = await flow_statuses(conn, who.store.id, [
            (spec, chosen.get(spec.id, spec.enabled_by_default)) for spec in sorted(specs.values(),
                                                                                   key=lambda s: s.id)])
    return render(request, who, "flows.html", title=_("Flows"), flows=statuses)


@router.post("/dashboard/{slug}/flows/{flow_id}")
async def toggle_flow(request: Request, slug: str, flow_id: str) -> Response:
    who = await viewer(request, slug, needs="edit")
    runtime = runtime_of(request)
    if flow_id not in runtime.catalog.flows_for(who.store.slug):
        raise page_error(404, _("no flow {flow}").format(flow=repr(flow_id)))
    wanted = who.form.get("enabled", "")
    if wanted not in ("on", "off"):
        raise page_error(400, _("enabled: send on or off"))
    async with runtime.engine.begin() as conn:
        try:
            await runtime.catalog.set_enabled(conn, who.store, flow_id, wanted == "on", runtime.clock.now())
            await record(conn, who.store.id, source_of(request, who), Change(
                Action.FLOW_ENABLED if wanted == "on" else Action.FLOW_DISABLED, flow_id), runtime.clock.now())
        except FlowRefused as exc:
            raise page_error(409, _("{flow} cannot be switched on: {problems}").format(
                flow=flow_id, problems="; ".join(exc.problems))) from None
    return RedirectResponse(f"/dashboard/{slug}/flows#flow-{flow_id}", status_code=303)

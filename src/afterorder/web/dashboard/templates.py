"""Templates: preview every message in every locale with sample data or a real order of the store,
edit a store's own version with a safe preview (the same sandbox as sending; errors shown with their
line, never a 500), and send a test."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from starlette.responses import RedirectResponse, Response

from afterorder.channels.base import OutgoingMessage, SendOutcome
from afterorder.content.overrides import (
    TemplateDraftError,
    check_draft,
    remove_override,
    render_sample,
    save_override,
)
from afterorder.db.schema import orders, template_overrides
from afterorder.domain import CustomerSnapshot, OrderSnapshot, RenderedMessage
from afterorder.flows.facts import load_customer, load_order
from afterorder.mime import build_email, message_id_for
from afterorder.snapshots import customer_snapshot, order_snapshot
from afterorder.web.dashboard.access import Viewer, page_error, render, runtime_of, viewer

router = APIRouter(include_in_schema=False)
ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")


def _known(request: Request, template: str, locale: str) -> None:
    renderer = runtime_of(request).renderer
    if template not in renderer.templates() or locale not in renderer.locales_for(template):
        raise page_error(404, f"no message {template!r} in {locale!r}")


async def _overridden(request: Request, who: Viewer) -> set[tuple[str, str]]:
    async with runtime_of(request).engine.connect() as conn:
        rows = await conn.execute(select(template_overrides.c.template, template_overrides.c.locale)
                                  .where(template_overrides.c.store_id == who.store.id))
        return {(r.template, r.locale) for r in rows}


@router.get("/dashboard/{slug}/templates")
async def templates_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    renderer = runtime_of(request).renderer
    listed = [(name, renderer.locales_for(name)) for name in renderer.templates()]
    return render(request, who, "templates.html", title="Templates", listed=listed,
                  overridden=await _overridden(request, who))


async def _real_data(request: Request, who: Viewer, wanted: str) -> tuple[CustomerSnapshot | None,
                                                                          OrderSnapshot | None]:
    """The order the store knows by number (with or without ``#``) or by its own id, and its customer."""
    async with runtime_of(request).engine.connect() as conn:
        found = (await conn.execute(select(orders.c.id, orders.c.customer_id).where(
            orders.c.store_id == who.store.id,
            or_(orders.c.number.in_([wanted, f"#{wanted.lstrip('#')}", wanted.lstrip("#")]),
                orders.c.external_id == wanted)).order_by(orders.c.id.desc()).limit(1))).first()
        if found is None:
            raise page_error(404, f"order: no order {wanted!r} in this store")
        order = await load_order(conn, who.store.id, found.id)
        customer = await load_customer(conn, who.store.id, found.customer_id)
    return customer_snapshot(customer), order_snapshot(order)


async def _editor(request: Request, who: Viewer, template: str, locale: str, *, source: str | None = None,
                  rendered: RenderedMessage | None = None, problem: str = "", notice: str = "",
                  status: int = 200, order: str = "") -> Response:
    runtime = runtime_of(request)
    snapshot = who.store.snapshot(runtime.settings.base_url)
    async with runtime.engine.connect() as conn:
        renderer = await runtime.renderers.for_store(conn, who.store.id)
    if source is None:
        source = renderer.source(template, locale)
    if rendered is None and not problem:
        real = await _real_data(request, who, order) if order else None
        try:
            rendered = render_sample(renderer, template, locale, snapshot, real=real)
        except TemplateDraftError as exc:
            problem = str(exc)
        if real is not None and not notice:
            notice = f"preview with the store's order {real[1].number if real[1] else order} (real data)"
    overridden = (template, locale) in await _overridden(request, who)
    return render(request, who, "template.html", title=f"{template} ({locale})", template=template, locale=locale,
                  locales=runtime.renderer.locales_for(template), source=source, rendered=rendered, problem=problem,
                  notice=notice, overridden=overridden, status=status, order=order)


@router.get("/dashboard/{slug}/templates/{template}/{locale}")
async def template_page(request: Request, slug: str, template: str, locale: str) -> Response:
    who = await viewer(request, slug)
    _known(request, template, locale)
    order = request.query_params.get("order", "").strip()
    if len(order) > 255:
        raise page_error(400, "order: at most 255 characters")
    return await _editor(request, who, template, locale, order=order)


@router.post("/dashboard/{slug}/templates/{template}/{locale}")
async def template_change(request: Request, slug: str, template: str, locale: str) -> Response:
    who = await viewer(request, slug, needs="edit")
    _known(request, template, locale)
    runtime = runtime_of(request)
    action = who.form.get("action", "preview")
    if action == "reset":
        async with runtime.engine.begin() as conn:
            await remove_override(conn, who.store.id, template, locale)
        return RedirectResponse(f"/dashboard/{slug}/templates/{template}/{locale}", status_code=303)
    if action not in ("preview", "save"):
        raise page_error(400, "action: preview, save or reset")
    source = who.form.get("source", "").replace("\r\n", "\n")
    try:
        rendered = check_draft(runtime.renderer, template, locale, source,
                               who.store.snapshot(runtime.settings.base_url))
    except TemplateDraftError as exc:
        return await _editor(request, who, template, locale, source=source, problem=str(exc), status=400)
    if action == "save":
        async with runtime.engine.begin() as conn:
            await save_override(conn, who.store.id, template, locale, source, who.session.username,
                                runtime.clock.now())
        return await _editor(request, who, template, locale, notice="saved: messages from now on use this version")
    return await _editor(request, who, template, locale, source=source, rendered=rendered,
                         notice="preview of the draft (not saved)")


@router.post("/dashboard/{slug}/templates/{template}/{locale}/test")
async def template_test(request: Request, slug: str, template: str, locale: str) -> Response:
    who = await viewer(request, slug, needs="edit")
    _known(request, template, locale)
    runtime = runtime_of(request)
    address = who.form.get("to", "").strip()
    if not ADDRESS.fullmatch(address) or len(address) > 320:
        return await _editor(request, who, template, locale, problem=f"to: {address!r} is not an email address",
                             status=400)
    snapshot = who.store.snapshot(runtime.settings.base_url)
    async with runtime.engine.connect() as conn:
        renderer = await runtime.renderers.for_store(conn, who.store.id)
    try:
        rendered = render_sample(renderer, template, locale, snapshot)
    except TemplateDraftError as exc:
        return await _editor(request, who, template, locale, problem=str(exc), status=400)
    message_id = message_id_for(snapshot, f"test:{uuid.uuid4().hex}")
    data = build_email(snapshot, to=address, rendered=rendered, message_id=message_id, category="transactional",
                       date=runtime.clock.now())
    try:
        channel = runtime.channel()
    except RuntimeError as exc:
        return await _editor(request, who, template, locale, problem=str(exc), status=503)
    result = await channel.send(OutgoingMessage(message_id, who.store.email_from, (address,), data))
    if result.outcome is not SendOutcome.SENT:
        return await _editor(request, who, template, locale, status=502,
                             problem=f"the test was not sent: {result.detail or result.outcome.value}")
    return await _editor(request, who, template, locale, notice=f"test sent to {address}")

"""Templates: preview every message in every locale with sample data, edit a store's own version
with a safe preview (the same sandbox as sending; errors shown with their line, never a 500), and
send a test."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from afterorder.channels.base import OutgoingEmail, SendOutcome
from afterorder.content.overrides import (
    TemplateDraftError,
    check_draft,
    remove_override,
    render_sample,
    save_override,
)
from afterorder.db.schema import template_overrides
from afterorder.domain import RenderedMessage
from afterorder.mime import build_email, message_id_for
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


async def _editor(request: Request, who: Viewer, template: str, locale: str, *, source: str | None = None,
                  rendered: RenderedMessage | None = None, problem: str = "", notice: str = "",
                  status: int = 200) -> Response:
    runtime = runtime_of(request)
    snapshot = who.store.snapshot(runtime.settings.base_url)
    async with runtime.engine.connect() as conn:
        renderer = await runtime.renderers.for_store(conn, who.store.id)
    if source is None:
        source = renderer.source(template, locale)
    if rendered is None and not problem:
        try:
            rendered = render_sample(renderer, template, locale, snapshot)
        except TemplateDraftError as exc:
            problem = str(exc)
    overridden = (template, locale) in await _overridden(request, who)
    return render(request, who, "template.html", title=f"{template} ({locale})", template=template, locale=locale,
                  locales=runtime.renderer.locales_for(template), source=source, rendered=rendered, problem=problem,
                  notice=notice, overridden=overridden, status=status)


@router.get("/dashboard/{slug}/templates/{template}/{locale}")
async def template_page(request: Request, slug: str, template: str, locale: str) -> Response:
    who = await viewer(request, slug)
    _known(request, template, locale)
    return await _editor(request, who, template, locale)


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
    result = await channel.send(OutgoingEmail(message_id, who.store.email_from, (address,), data))
    if result.outcome is not SendOutcome.SENT:
        return await _editor(request, who, template, locale, status=502,
                             problem=f"the test was not sent: {result.detail or result.outcome.value}")
    return await _editor(request, who, template, locale, notice=f"test sent to {address}")

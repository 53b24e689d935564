"""Templates: preview every message in every locale with sample data or a real order of the store,
as an email, a LINE card and an SMS side by side; edit a store's own version of any of the three
(``?channel=email|line|sms``) with a safe preview (the same sandbox as sending; errors shown with their
line, never a 500; LINE drafts held to LINE's limits, SMS drafts measured in segments), and send a
test mail.  Notices and the page's own problems are in the dashboard's language; a template's
errors (with their line) are the template engine's own."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from starlette.responses import RedirectResponse, Response

from afterorder.audit.log import Action, Change, record
from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.email.mime import build_email, message_id_for
from afterorder.content.channel_render import Rendering
from afterorder.content.flex_html import line_html
from afterorder.content.line import LineRendered
from afterorder.content.overrides import (
    Real,
    TemplateDraftError,
    check_draft,
    remove_override,
    render_channel_sample,
    render_sample,
    save_override,
)
from afterorder.content.render import Renderer
from afterorder.content.sms import WARN_ABOVE, SmsRendered
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from afterorder.content.variants import override_file, split_file
from afterorder.db.schema import orders, template_overrides
from afterorder.db.stores import StoreRow
from afterorder.domain import CustomerSnapshot, OrderSnapshot, RenderedMessage
from afterorder.flows.facts import load_customer, load_order
from afterorder.flows.preview import preview_short_links
from afterorder.signing import Signer
from afterorder.tracking.settings import TrackingSettings, load_settings
from afterorder.web.dashboard import wording
from afterorder.web.dashboard.access import Viewer, page_error, render, runtime_of, viewer
from afterorder.web.dashboard.audit import source_of
from afterorder.web.dashboard.locale import _

router = APIRouter(include_in_schema=False)
ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")


@dataclass(frozen=True)
class Shown:
    """One channel's rendering of the message on the page (or why there is none)."""

    channel: ChannelKind
    email: RenderedMessage | None = None
    line: LineRendered | None = None
    line_html: str = ""
    sms: SmsRendered | None = None
    problem: str = ""


def _channel(request: Request, who: Viewer | None = None) -> ChannelKind:
    given = (who.form.get("channel") if who is not None else None) or request.query_params.get("channel") or "email"
    try:
        return ChannelKind(given)
    except ValueError:
        raise page_error(400, _("channel: email, line or sms")) from None


def _known(request: Request, template: str, locale: str, channel: ChannelKind = ChannelKind.EMAIL) -> None:
    renderer = runtime_of(request).renderer
    if template not in renderer.templates() or locale not in renderer.locales_for(template, channel):
        raise page_error(404, _("no {channel} message {template} in {language}").format(
            channel=wording.channel(channel.value), template=repr(template), language=repr(locale)))


async def _overridden(request: Request, who: Viewer) -> set[tuple[str, str, ChannelKind]]:
    """(message, locale, channel) of the store's own versions."""
    async with runtime_of(request).engine.connect() as conn:
        rows = (await conn.execute(select(template_overrides.c.template, template_overrides.c.locale)
                                   .where(template_overrides.c.store_id == who.store.id))).all()
    return {found for r in rows if (found := split_file(override_file(r.template, r.locale))) is not None}


@router.get("/dashboard/{slug}/templates")
async def templates_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    renderer = runtime_of(request).renderer
    listed = [(name, renderer.locales_for(name), sorted(c.value for c in renderer.channels_of(name)))
              for name in renderer.templates()]
    edited = {(name, locale) for name, locale, _ in await _overridden(request, who)}
    return render(request, who, "templates.html", title=_("Templates"), listed=listed, overridden=edited)


async def _real_data(request: Request, who: Viewer, wanted: str) -> tuple[CustomerSnapshot | None,
                                                                          OrderSnapshot | None]:
    """The order the store knows by number (with or without ``#``) or by its own id, and its customer."""
    async with runtime_of(request).engine.connect() as conn:
        found = (await conn.execute(select(orders.c.id, orders.c.customer_id).where(
            orders.c.store_id == who.store.id,
            or_(orders.c.number.in_([wanted, f"#{wanted.lstrip('#')}", wanted.lstrip("#")]),
                orders.c.external_id == wanted)).order_by(orders.c.id.desc()).limit(1))).first()
        if found is None:
            raise page_error(404, _("order: no order {order} in this store").format(order=repr(wanted)))
        order = await load_order(conn, who.store.id, found.id)
        customer = await load_customer(conn, who.store.id, found.customer_id)
    return customer_snapshot(customer), order_snapshot(order)


def _shown(channel: ChannelKind, rendering: Rendering | None, problem: str = "") -> Shown:
    if isinstance(rendering, LineRendered):
        return Shown(channel, line=rendering, line_html=line_html(rendering.messages))
    if isinstance(rendering, SmsRendered):
        return Shown(channel, sms=rendering)
    return Shown(channel, email=rendering, problem=problem)


def _sample(renderer: Renderer, channel: ChannelKind, template: str, locale: str, store: StoreRow, signer: Signer,
            base_url: str, settings: TrackingSettings, real: Real | None) -> Shown:
    if locale not in renderer.locales_for(template, channel):
        return Shown(channel, problem=_("no {channel} version of this message in {language}").format(
            channel=wording.channel(channel.value), language=locale))
    try:
        rendering = render_channel_sample(renderer, channel, template, locale, store.snapshot(base_url), real=real)
    except TemplateDraftError as exc:
        return Shown(channel, problem=str(exc))
    if isinstance(rendering, SmsRendered):
        rendering = preview_short_links(rendering, store, signer, base_url, settings)
    return _shown(channel, rendering)


async def _editor(request: Request, who: Viewer, template: str, locale: str,
                  channel: ChannelKind = ChannelKind.EMAIL, *, source: str | None = None,
                  draft: Rendering | None = None, problem: str = "", notice: str = "", status: int = 200,
                  order: str = "") -> Response:
    """The page: the message on every channel side by side, and the editor of ``channel``'s version.
    ``draft`` is a draft of that version to show instead of the saved one; with a ``problem`` and no
    draft, that channel shows nothing but the problem."""
    runtime = runtime_of(request)
    base_url = runtime.settings.base_url
    async with runtime.engine.connect() as conn:
        renderer = await runtime.renderers.for_store(conn, who.store.id)
        settings = await load_settings(conn, who.store)
    if source is None:
        source = renderer.source(template, locale, channel)
    real = await _real_data(request, who, order) if order else None
    if real is not None and not notice:
        notice = _("preview with the store's order {order} (real data)").format(
            order=real[1].number if real[1] else order)
    shown = []
    for kind in ChannelKind:
        if kind is channel and draft is not None:
            if isinstance(draft, SmsRendered):
                draft = preview_short_links(draft, who.store, runtime.signers.of(who.store), base_url, settings)
            shown.append(_shown(kind, draft))
        elif kind is channel and problem:
            shown.append(Shown(kind, problem=_("see the problem above")))
        else:
            shown.append(_sample(renderer, kind, template, locale, who.store, runtime.signers.of(who.store), base_url,
                                 settings, real))
    overridden = (template, locale, channel) in await _overridden(request, who)
    email = shown[0].email
    return render(request, who, "template.html", title=f"{template} ({locale})", template=template, locale=locale,
                  channel=channel.value, locales=runtime.renderer.locales_for(template, channel),
                  channels=[c.value for c in ChannelKind if locale in renderer.locales_for(template, c)],
                  source=source, rendered=email, shown=shown, problem=problem, notice=notice,
                  overridden=overridden, status=status, order=order, sms_warn_above=WARN_ABOVE)


@router.get("/dashboard/{slug}/templates/{template}/{locale}")
async def template_page(request: Request, slug: str, template: str, locale: str) -> Response:
    who = await viewer(request, slug)
    channel = _channel(request)
    _known(request, template, locale, channel)
    order = request.query_params.get("order", "").strip()
    if len(order) > 255:
        raise page_error(400, _("order: at most 255 characters"))
    return await _editor(request, who, template, locale, channel, order=order)


@router.post("/dashboard/{slug}/templates/{template}/{locale}")
async def template_change(request: Request, slug: str, template: str, locale: str) -> Response:
    who = await viewer(request, slug, needs="edit")
    channel = _channel(request, who)
    _known(request, template, locale, channel)
    runtime = runtime_of(request)
    action = who.form.get("action", "preview")
    page = f"/dashboard/{slug}/templates/{template}/{locale}" + ("" if channel is ChannelKind.EMAIL
                                                                  else f"?channel={channel.value}")
    if action == "reset":
        async with runtime.engine.begin() as conn:
            await remove_override(conn, who.store.id, template, locale, channel)
            await record(conn, who.store.id, source_of(request, who), Change(
                Action.TEMPLATE_RESET, f"{template}/{locale}", {"channel": channel.value}), runtime.clock.now())
        return RedirectResponse(page, status_code=303)
    if action not in ("preview", "save"):
        raise page_error(400, _("action: preview, save or reset"))
    source = who.form.get("source", "").replace("\r\n", "\n")
    try:
        draft = check_draft(runtime.renderer, template, locale, source,
                            who.store.snapshot(runtime.settings.base_url), channel)
    except TemplateDraftError as exc:
        return await _editor(request, who, template, locale, channel, source=source, problem=str(exc), status=400)
    if action == "save":
        async with runtime.engine.begin() as conn:
            await save_override(conn, who.store.id, template, locale, source, who.session.username,
                                runtime.clock.now(), channel)
            await record(conn, who.store.id, source_of(request, who), Change(
                Action.TEMPLATE_SAVED, f"{template}/{locale}", {"channel": channel.value, "characters": len(source)}),
                runtime.clock.now())
        return await _editor(request, who, template, locale, channel,
                             notice=_("saved: messages from now on use this version"))
    return await _editor(request, who, template, locale, channel, source=source, draft=draft,
                         notice=_("preview of the draft (not saved)"))


@router.post("/dashboard/{slug}/templates/{template}/{locale}/test")
async def template_test(request: Request, slug: str, template: str, locale: str) -> Response:
    who = await viewer(request, slug, needs="edit")
    _known(request, template, locale)
    runtime = runtime_of(request)
    address = who.form.get("to", "").strip()
    if not ADDRESS.fullmatch(address) or len(address) > 320:
        return await _editor(request, who, template, locale, problem=_("to: {address} is not an email address").format(
                                 address=repr(address)),
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
                             problem=_("the test was not sent: {why}").format(
                                 why=result.detail or result.outcome.value))
    async with runtime.engine.begin() as conn:
        await record(conn, who.store.id, source_of(request, who), Change(
            Action.TEMPLATE_TEST_SENT, f"{template}/{locale}", {"channel": "email"}), runtime.clock.now())
    return await _editor(request, who, template, locale, notice=_("test sent to {address}").format(address=address))

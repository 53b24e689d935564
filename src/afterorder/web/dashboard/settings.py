"""The store's settings page (owners): where the customers' delivery notes are posted, the key their
signature is made with, and the last webhooks with how they went (``order_page.note_webhook``).

* ``GET /dashboard/{store}/settings`` — the page;
* ``POST /dashboard/{store}/settings/delivery-note-webhook`` — ``url`` (empty: post nowhere); an
  address that is not http(s) is a 400 naming the field.  The change is in the audit log.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from afterorder.audit.log import Action, Change, record
from afterorder.db.schema import outgoing_webhooks
from afterorder.db.store_settings import WebhookUrlError, delivery_note_webhook_of, set_delivery_note_webhook
from afterorder.order_page.note_webhook import SIGNATURE_HEADER, webhook_key
from afterorder.web.dashboard.access import page_error, render, runtime_of, viewer
from afterorder.web.dashboard.audit import source_of
from afterorder.web.dashboard.locale import _

router = APIRouter(include_in_schema=False)
RECENT: Final = 20


@router.get("/dashboard/{slug}/settings")
async def settings_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    if not who.role.may_administer():
        raise page_error(403, _("the role {role} in {store} may not change this").format(
            role=who.role.value, store=who.store.slug))
    async with runtime_of(request).engine.connect() as conn:
        url = await delivery_note_webhook_of(conn, who.store.id)
        recent = (await conn.execute(
            select(outgoing_webhooks.c.idempotency_key, outgoing_webhooks.c.status, outgoing_webhooks.c.attempts,
                   outgoing_webhooks.c.last_code, outgoing_webhooks.c.last_error, outgoing_webhooks.c.created_at)
            .where(outgoing_webhooks.c.store_id == who.store.id)
            .order_by(outgoing_webhooks.c.id.desc()).limit(RECENT))).mappings().all()
    return render(request, who, "settings.html", title=_("Settings"), webhook_url=url or "",
                  signing_key=webhook_key(runtime_of(request).signers.of(who.store)),
                  signature_header=SIGNATURE_HEADER, recent=recent)


@router.post("/dashboard/{slug}/settings/delivery-note-webhook")
async def webhook_form(request: Request, slug: str) -> Response:
    who = await viewer(request, slug, needs="administer")
    runtime = runtime_of(request)
    given = who.form.get("url", "").strip()
    try:
        async with runtime.engine.begin() as conn:
            before = await delivery_note_webhook_of(conn, who.store.id)
            after = await set_delivery_note_webhook(conn, who.store.id, given, runtime.clock.now())
            if after != before:
                await record(conn, who.store.id, source_of(request, who), Change(
                    Action.SETTING_CHANGED, "delivery_note_webhook", {"from": before, "to": after}),
                             runtime.clock.now())
    except WebhookUrlError:
        raise page_error(400, _("url: {value} is not an http:// or https:// address").format(
            value=repr(given[:200]))) from None
    return RedirectResponse(f"/dashboard/{slug}/settings", status_code=303)

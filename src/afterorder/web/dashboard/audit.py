"""The audit log page (``/dashboard/{slug}/audit``, owners only): the store's changes, newest first,
filtered by action and by who, 50 a page; and ``source_of``, who a dashboard request is for
``afterorder.audit.log.record``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from afterorder.audit import log, sources
from afterorder.audit.log import Action, Fact, Source
from afterorder.web.dashboard.access import Viewer, page_error, render, runtime_of, viewer
from afterorder.web.dashboard.locale import N_, _

router = APIRouter(include_in_schema=False)
PAGE_SIZE: Final = 50

ACTIONS: Final[Mapping[Action, str]] = {
    Action.FLOW_ENABLED: N_("flow turned on"),
    Action.FLOW_DISABLED: N_("flow turned off"),
    Action.TEMPLATE_SAVED: N_("template saved"),
    Action.TEMPLATE_RESET: N_("template reset to the built-in one"),
    Action.TEMPLATE_TEST_SENT: N_("template test sent"),
    Action.SETTING_CHANGED: N_("setting changed"),
    Action.SEGMENT_SAVED: N_("segment saved"),
    Action.SEGMENT_REMOVED: N_("segment removed"),
    Action.AB_TEST_STARTED: N_("A/B test started"),
    Action.AB_TEST_STOPPED: N_("A/B test stopped"),
    Action.CONTENT_SET: N_("content set"),
    Action.CHANNEL_SET: N_("channel provider set up"),
    Action.CHANNEL_REMOVED: N_("channel provider removed"),
    Action.CHANNELS_CHANGED: N_("channel settings changed"),
    Action.PLATFORM_CONNECTED: N_("platform connected"),
    Action.USER_SET: N_("dashboard user added or changed"),
    Action.CUSTOMER_ERASED: N_("customer erased"),
    Action.CUSTOMER_EXPORTED: N_("customer data exported"),
    Action.STEP_TEST_SENT: N_("step test sent"),
    Action.ESP_CREDENTIALS_SET: N_("bounce webhook credentials set"),
    Action.SUPPRESSION_ADDED: N_("address suppressed"),
    Action.SUPPRESSION_LIFTED: N_("suppression lifted"),
    Action.STORE_CREATED: N_("store created"),
    Action.COUPONS_IMPORTED: N_("coupon codes imported"),
    Action.SEGMENT_EXPORTED: N_("segment members exported"),
}
KINDS: Final[Mapping[str, str]] = {"user": N_("dashboard user"), "api_key": N_("API key"),
                                   "cli": N_("command line")}


# The names ``details`` use (``afterorder.audit``), as the page shows them; another name shows as it is.
DETAIL_NAMES: Final[Mapping[str, str]] = {
    "channel": N_("channel"), "characters": N_("characters"), "flow": N_("flow"), "step": N_("step"),
    "split": N_("share of B (%)"), "metric": N_("metric"), "name": N_("name"), "provider": N_("provider"),
    "role": N_("role"), "rate": N_("messages a second"), "options": N_("options"), "order": N_("order of channels"),
    "line_notifications": N_("LINE notification messages"), "sms_help": N_("SMS HELP answer"),
    "amp_email": N_("AMP email (live order status)"),
    "customer": N_("customer (internal id)"), "locale": N_("locale"), "api_url": N_("API URL"),
    "secret_rotated": N_("secret rotated"), "user_id": N_("user id"), "language": N_("language"),
    "count": N_("count"), "added": N_("added"), "already_there": N_("already there"), "percent": N_("percent"),
    "amount": N_("amount"), "api_key": N_("API key"),
}


def source_of(request: Request, who: Viewer) -> Source:
    """The logged-in user of a dashboard request, from the request's address."""
    return sources.dashboard_user(request, who.session.user_id, who.session.username)


def action_label(action: Action) -> str:
    return _(ACTIONS[action])


def kind_label(kind: str) -> str:
    return _(KINDS[kind]) if kind in KINDS else kind


def details_text(details: Mapping[str, Fact]) -> str:
    """``from → to`` for a setting, then the other names and values as they are stored."""
    parts: list[str] = []
    if "from" in details or "to" in details:
        parts.append(f"{_shown(details.get('from'))} → {_shown(details.get('to'))}")
    parts.extend(f"{_(DETAIL_NAMES[k]) if k in DETAIL_NAMES else k}: {_shown(v)}" for k, v in details.items()
                 if k not in ("from", "to"))
    return " · ".join(parts)


def _shown(value: Fact) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


@router.get("/dashboard/{slug}/audit")
async def audit_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    if not who.may_administer:
        raise page_error(403, _("only the store's owners see its audit log"))
    action = request.query_params.get("action", "")
    if action and action not in {a.value for a in Action}:
        raise page_error(400, _("action: {value} is not one of the log's actions").format(value=repr(action[:64])))
    actor = request.query_params.get("user", "")[:128]
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        raise page_error(400, _("page: a whole number from 1")) from None
    async with runtime_of(request).engine.connect() as conn:
        found = await log.entries(conn, who.store.id, action=action or None, actor=actor or None,
                                  limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        everyone = await log.actors(conn, who.store.id)
    pages = max(1, -(-found.total // PAGE_SIZE))
    choices = [(a.value, _(label)) for a, label in ACTIONS.items()]
    return render(request, who, "audit.html", title=_("Audit log"), found=found, action=action, actor=actor,
                  page=page, pages=pages, actors=everyone, actions=choices,
                  action_label=action_label, kind_label=kind_label, details_text=details_text)

"""Who is asking: the session cookie, the store in the URL and the user's role there, and the
form token (CSRF) every POST must carry.

- No session: pages redirect to ``/login``; a POST gets 403.
- A store the user has no role in answers 404, exactly like a store that does not exist.
- A POST without the session's form token (field ``csrf``) answers 403, whatever the role.
- A POST that needs a role the user lacks (a viewer changing anything) answers 403.

Every page and error is written in the request's language (``locale.py``): the user's choice, else
the browser's; ``current_session`` settles it for the request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from afterorder.channels.setup import load_prefs
from afterorder.db import dashboard_users as users
from afterorder.db.dashboard_users import Membership, Role, Session
from afterorder.db.stores import StoreRow, get_store_by_id
from afterorder.runtime import Runtime
from afterorder.web.dashboard import locale, wording
from afterorder.web.dashboard.locale import _

COOKIE: Final = "afterorder_session"
LOGIN_COOKIE: Final = "afterorder_login"
MAX_FORM: Final = 256 * 1024

env = Environment(loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
                  autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"])
env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's line breaks and indents are one space
env.install_gettext_callables(locale.gettext, locale.ngettext, newstyle=True)  # type: ignore[attr-defined]
env.globals.update(number=locale.number, percent=locale.percent, money=locale.money, day=locale.day,
                   month=locale.month, quarter=locale.quarter, moment=locale.moment, html_lang=locale.html_lang,
                   whole_percent=locale.whole_percent, person=locale.person, points=locale.points,
                   p_value=locale.p_value, zone_name=locale.zone_name,
                   languages=locale.NAMES, language=locale.current, words=wording)


class Denied(Exception):
    """Stop handling a dashboard request with this response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def page_error(status: int, message: str) -> Denied:
    """An error page; ``message`` already in the request's language."""
    html = env.get_template("dashboard/error.html").render(status=status, message=message, title=str(status))
    return Denied(HTMLResponse(html, status_code=status))


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass(frozen=True)
class Viewer:
    """The logged-in user looking at one store."""

    session: Session
    store: StoreRow
    role: Role
    form: dict[str, str]
    line_paused_until: datetime | None = None  # LINE's monthly quota is used up: its messages go by email

    @property
    def may_edit(self) -> bool:
        return self.role.may_edit()

    @property
    def line_resumes(self) -> str | None:
        """When LINE sends again, in the store's time (a date, with the hour when not midnight); None
        while LINE is not paused."""
        if self.line_paused_until is None:
            return None
        zone = ZoneInfo(self.store.timezone)
        local = self.line_paused_until.astimezone(zone)
        return locale.day(local.date()) if (local.hour, local.minute) == (0, 0) else locale.moment(local, zone)

    @property
    def zone(self) -> ZoneInfo:
        """The store's time zone: the dashboard's times are written in it."""
        return ZoneInfo(self.store.timezone)

    @property
    def may_administer(self) -> bool:
        return self.role.may_administer()


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, the last value of each field."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise page_error(413, _("the form is too large"))
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise page_error(400, _("the form could not be read")) from None
    return {k: v[-1] for k, v in parsed.items()}


def use_browser_language(request: Request) -> str:
    """Show this request in the language the browser asks for (before anyone is logged in)."""
    return locale.use(locale.from_accept_language(request.headers.get("accept-language")))


async def current_session(request: Request) -> Session | None:
    """The logged-in session, if any; the request is shown in its user's language from here on."""
    use_browser_language(request)
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        session = await users.session_for(conn, token, runtime.clock.now())
    if session is not None and locale.known(session.language):
        locale.use(session.language or locale.DEFAULT)
    return session


def check_csrf(session: Session, form: dict[str, str]) -> None:
    if not hmac.compare_digest(form.get("csrf", ""), session.csrf_token):
        raise page_error(403, _("the form token is missing or out of date: reload the page and try again"))


async def viewer(request: Request, slug: str, *, needs: str = "read") -> Viewer:
    """The session and the store ``slug`` it may see; for a POST the form, its token and the role checked.

    ``needs``: ``read``, ``edit`` (owner, editor) or ``administer`` (owner)."""
    session = await current_session(request)
    post = request.method == "POST"
    if session is None:
        if post:
            raise page_error(403, _("log in first"))
        raise Denied(RedirectResponse(f"/login?next={request.url.path}", status_code=303))
    membership = next((m for m in session.memberships if m.slug == slug), None)
    if membership is None:
        raise page_error(404, _("no store {slug}").format(slug=repr(slug)))
    form: dict[str, str] = {}
    if post:
        form = await read_form(request)
        check_csrf(session, form)
        allowed = {"read": True, "edit": membership.role.may_edit(),
                   "administer": membership.role.may_administer()}[needs]
        if not allowed:
            raise page_error(403, _("the role {role} in {store} may not change this").format(
                role=wording.role(membership.role), store=slug))
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        store = await get_store_by_id(conn, membership.store_id)
        prefs = (await load_prefs(conn, [membership.store_id]))[membership.store_id]
    if store is None:
        raise page_error(404, _("no store {slug}").format(slug=repr(slug)))
    paused = prefs.line_paused_until if prefs.line_paused(runtime.clock.now()) else None
    return Viewer(session, store, membership.role, form, paused)


def render(request: Request, who: Viewer | None, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    runtime = runtime_of(request)
    memberships: tuple[Membership, ...] = who.session.memberships if who else ()
    html = env.get_template(f"dashboard/{name}").render(
        who=who, memberships=memberships, now=runtime.clock.now(), path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def local_day(moment: datetime, zone: Any) -> str:
    return moment.astimezone(zone).date().isoformat()

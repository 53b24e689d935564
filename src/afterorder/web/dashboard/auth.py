"""Log in, log out, switch between the stores a user manages, and choose the dashboard's language
(``POST /dashboard/language``: one of ``locale.LANGUAGES``, kept with the user; before logging in,
the browser's ``Accept-Language`` decides)."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from afterorder.db import dashboard_users as users
from afterorder.web.dashboard.access import (
    COOKIE,
    LOGIN_COOKIE,
    Denied,
    check_csrf,
    current_session,
    env,
    page_error,
    read_form,
    runtime_of,
    use_browser_language,
)
from afterorder.web.dashboard.access import render as render_page
from afterorder.web.dashboard.locale import LANGUAGES, _, known, ngettext

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute URL or ``//host``."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


def _secure(request: Request) -> bool:
    """Cookies are ``Secure`` whenever the public base URL is https (TLS may end at a proxy in front, so
    the request itself can arrive as http), or the request came over https."""
    return runtime_of(request).settings.base_url.lower().startswith("https://") or request.url.scheme == "https"


def _login_page(request: Request, message: str = "", status: int = 200, next_path: str = "/dashboard") -> Response:
    token = secrets.token_urlsafe(24)
    response = render_page(request, None, "login.html", status=status, title=_("Log in"), login_csrf=token,
                           message=message, next_path=next_path)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/login")
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    use_browser_language(request)
    return _login_page(request, next_path=_safe_next(request.query_params.get("next")))


@router.post("/login")
async def login(request: Request) -> Response:
    use_browser_language(request)
    try:
        form = await read_form(request)
    except Denied as denied:
        return denied.response
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
        return page_error(403, _("the form token is missing or out of date: reload the page and try again")).response
    runtime = runtime_of(request)
    try:
        async with runtime.engine.begin() as conn:
            token = await users.log_in(conn, form.get("username", "").strip(), form.get("password", ""),
                                       runtime.clock.now())
    except users.TooManyFailures as exc:
        wait = max(1, -int(-(exc.until - runtime.clock.now()).total_seconds() // 60))
        response = _login_page(request, ngettext("too many wrong passwords for this user: try again in {n} minute",
                                                 "too many wrong passwords for this user: try again in {n} minutes",
                                                 wait).format(n=wait),
                               429, _safe_next(form.get("next")))
        response.headers["Retry-After"] = str(wait * 60)
        return response
    if token is None:
        return _login_page(request, _("wrong username or password"), 401, _safe_next(form.get("next")))
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/",
                        max_age=int(users.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path="/login", secure=_secure(request), httponly=True, samesite="lax")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return page_error(403, _("log in first")).response
    try:
        check_csrf(session, await read_form(request))
    except Denied as denied:
        return denied.response
    async with runtime_of(request).engine.begin() as conn:
        await users.log_out(conn, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True, samesite="lax")
    return response


@router.get("/dashboard")
async def home(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    current = session.current
    if current is None:
        html = env.get_template("dashboard/error.html").render(
            status=403, title=_("No store"), message=_("this user has no store yet: ask an owner to add you"))
        return Response(html, status_code=403, media_type="text/html")
    return RedirectResponse(f"/dashboard/{current.slug}/flows", status_code=303)


@router.get("/dashboard/switch")
async def switch(request: Request) -> Response:
    """The store switcher (a GET form: it changes what is shown, not what is stored)."""
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    slug = request.query_params.get("store", "")
    membership = next((m for m in session.memberships if m.slug == slug), None)
    if membership is None:
        return page_error(404, _("no store {slug}").format(slug=repr(slug))).response
    async with runtime_of(request).engine.begin() as conn:
        await users.switch_store(conn, request.cookies.get(COOKIE, ""), membership.store_id)
    page = request.query_params.get("page", "flows")
    page = page if page in ("flows", "messages", "benchmarks", "retention", "customers", "segments",
                            "templates", "tests", "audit") else "flows"
    return RedirectResponse(f"/dashboard/{membership.slug}/{page}", status_code=303)


@router.post("/dashboard/language")
async def choose_language(request: Request) -> Response:
    """Keep the language the user picked (``language``: a code of ``locale.LANGUAGES``, or empty to
    follow the browser again), then back to the page it was picked on (``next``)."""
    session = await current_session(request)
    if session is None:
        return page_error(403, _("log in first")).response
    try:
        form = await read_form(request)
        check_csrf(session, form)
    except Denied as denied:
        return denied.response
    wanted = form.get("language", "")
    if wanted and known(wanted) is None:
        return page_error(400, _("language: one of {languages}").format(languages=", ".join(LANGUAGES))).response
    async with runtime_of(request).engine.begin() as conn:
        await users.set_language(conn, session.user_id, wanted or None)
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)

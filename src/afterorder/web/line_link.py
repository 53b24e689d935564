"""The pages of LINE account linking (the flow: ``feedback/line_link.py``), reached with no login:

* ``GET /line/link/{store}/{token}``: from the "Get updates on LINE" link in a mail.  Shows the
  customer's one-time code and a button that opens a chat with the store's account with the code
  typed in.  In the customer's language (their locale, else the browser's, else the store's),
  laid out for a phone first.
* ``GET /line/link/{store}/confirm?t=…``: from the button LINE shows after the code was sent.
  Makes the nonce and redirects (303) to LINE's account-link dialog.

A token that was altered, is another store's or names no customer gets 400; a store without a
LINE account set up (its ``basic_id``) gets 404; an expired or spent link gets 410.  Each answers
with a short page saying so.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from afterorder.compliance.unsubscribe import find_customer
from afterorder.db.stores import StoreRow, get_store
from afterorder.feedback import line_link
from afterorder.feedback.line_link_text import link_locale, link_text
from afterorder.runtime import Runtime
from afterorder.signing import BadToken

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _browser_locale(request: Request) -> str | None:
    return request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip() or None


def _page(locale: str, status: int, store: StoreRow | None, key: str, **context: str) -> HTMLResponse:
    name = store.name if store else "afterorder"
    t = link_text(locale, store=name, basic_id=context.get("basic_id", ""))
    html = _env.get_template("public/line_link.html").render(
        locale=locale, store_name=name, t=t, lines=[t[key]], **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


async def _store(request: Request, slug: str) -> StoreRow | None:
    async with _runtime(request).engine.connect() as conn:
        return await get_store(conn, slug)


@router.get("/line/link/{slug}/confirm")
async def line_link_confirm(request: Request, slug: str, t: str = "") -> Response:
    store = await _store(request, slug)
    locale = link_locale(_browser_locale(request), store.locale if store else None)
    if store is None:
        return _page(locale, 400, None, "bad_link")
    try:
        link_id, link_token = line_link.read_confirm(_runtime(request).signers.of(store), t)
    except BadToken:
        return _page(locale, 400, store, "bad_link")
    runtime = _runtime(request)
    async with runtime.engine.begin() as conn:
        nonce = await line_link.make_nonce(conn, store.id, link_id, runtime.clock.now())
    if nonce is None:
        return _page(locale, 410, store, "expired")
    return RedirectResponse(line_link.dialog_url(link_token, nonce), status_code=303, headers=_HEADERS)


@router.get("/line/link/{slug}/{token}")
async def line_link_page(request: Request, slug: str, token: str) -> Response:
    store = await _store(request, slug)
    browser = _browser_locale(request)
    if store is None:
        return _page(link_locale(browser), 400, None, "bad_link")
    runtime = _runtime(request)
    try:
        customer = await find_customer(runtime.engine, store.id, line_link.read_link(runtime.signers.of(store), token))
    except BadToken:
        customer = None
    if customer is None:
        return _page(link_locale(browser, store.locale), 400, store, "bad_link")
    locale = link_locale(customer.locale, browser, store.locale)
    async with runtime.engine.begin() as conn:
        basic_id = await line_link.line_basic_id(conn, store.id)
        if basic_id is None:
            return _page(locale, 404, store, "unavailable")
        code = await line_link.open_link(conn, store.id, customer.id, runtime.clock.now())
    chat = line_link.chat_url(basic_id, link_text(locale, code=code)["chat"])
    return _page(locale, 200, store, "intro", chat_url=chat, code=code, basic_id=basic_id)

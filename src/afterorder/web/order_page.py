"""The customer's order page and its API.

* ``GET /o/{store}/{token}`` — the page (``templates/public/order.html``), in the customer's language
  (ja, zh-Hans, en), mobile first, in the store's colour with its logo.  Its script
  (``/static/order-page.js``; the Content-Security-Policy allows no inline script) polls
* ``GET /o/{store}/{token}.json`` — the status timeline and shipment (``order_page.view.status_json``),
  every ``app.state.order_poll_seconds`` (default ``POLL_SECONDS``), and moves the page's timeline
  without a reload.
* ``POST /o/{store}/{token}/note`` — the delivery note's form on the page (``web.delivery_notes``).
* ``GET /o/{slug}/{token}/amp.json`` — the same status for the live block of an AMP email
  (``order_page.amp_mail``), only to a request that shows it comes from the store's own mail: the AMP for
  Email CORS check (``order_page.amp_cors``); a request without it gets **403** and no order data.
* ``GET /api/v1/orders/{order_id}/order-page`` — the page's link for the store's order ``order_id``
  (the store's own id), to put in its own messages or account pages, and its ``token`` (the
  thank-you block's ``data-order``).
* ``POST /api/v1/orders/{order_id}/order-page/revoke`` — every link of that order made so far stops
  working; messages sent afterwards carry new ones.

An altered, foreign, expired or revoked token and an unknown store all get the same answer: **404**
with a polite page (or ``{"error": "not_found"}``) that shows nothing of any order, so a token
cannot be probed.  The pages are never cached and send no referrer (the token is in the address).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, JSONResponse, Response

from afterorder.db.schema import orders
from afterorder.db.stores import StoreRow, get_store
from afterorder.order_page.amp_cors import AmpRefused, AmpRequest, grant
from afterorder.order_page.delivery_note import CHOICES, MAX_TEXT, WINDOWS, form_nonce
from afterorder.order_page.links import OrderRef, order_url, read_token, revoke
from afterorder.order_page.text import order_text
from afterorder.order_page.view import OrderView, load_view, status_json
from afterorder.runtime import Runtime
from afterorder.signing import BadToken
from afterorder.web.api import StoreDep
from afterorder.web.errors import error
from afterorder.web.openapi_errors import NOT_FOUND
from afterorder.web.public_text import page_locale

POLL_SECONDS: Final = 20
_HEADERS: Final = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["order page"])


class _Gone(Exception):
    """No page for this address: any reason, one answer."""


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _browser_locale(request: Request) -> str | None:
    return request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip() or None


async def _view(request: Request, slug: str, token: str, *, with_extras: bool
                ) -> tuple[StoreRow, OrderRef, OrderView]:
    runtime = _runtime(request)
    now = runtime.clock.now()
    async with runtime.engine.connect() as conn:
        store = await get_store(conn, slug)
        if store is None:
            raise _Gone
        try:
            ref: OrderRef = read_token(_runtime(request).signers.of(store), token, now)
        except BadToken:
            raise _Gone from None
        browser = _browser_locale(request)
        view = await load_view(conn, store, ref, lambda customer: page_locale(customer, browser, store.locale),
                               now, with_extras=with_extras)
    if view is None:
        raise _Gone
    return store, ref, view


def _gone(request: Request) -> HTMLResponse:
    locale = page_locale(_browser_locale(request))
    html = _env.get_template("public/order_gone.html").render(locale=locale, t=order_text(locale))
    return HTMLResponse(html, status_code=404, headers=_HEADERS)


@router.get("/o/{slug}/{token}.json")
async def order_status(request: Request, slug: str, token: str) -> Response:
    try:
        _, _, view = await _view(request, slug, token, with_extras=False)
    except _Gone:
        return JSONResponse({"error": "not_found"}, status_code=404, headers=_HEADERS)
    return JSONResponse(status_json(view), headers=_HEADERS)


@router.get("/o/{slug}/{token}/amp.json")
async def order_status_for_amp(request: Request, slug: str, token: str) -> Response:
    """The status for an AMP email's live block: the store's own mail only (AMP for Email CORS)."""
    async with _runtime(request).engine.connect() as conn:
        store = await get_store(conn, slug)
    if store is None:
        return JSONResponse({"error": "not_found"}, status_code=404, headers=_HEADERS)
    try:
        allowed = grant(AmpRequest.read(request.headers, request.query_params), [store.email_from])
    except AmpRefused as exc:
        where = "query" if exc.field.startswith("__") else "header"
        return error(403, "amp_sender", f"no order data: {exc}", headers=_HEADERS, details=[
            {"loc": [where, exc.field], "field": exc.field, "message": str(exc), "type": "amp_sender"}])
    try:
        _, _, view = await _view(request, slug, token, with_extras=False)
    except _Gone:
        return JSONResponse({"error": "not_found"}, status_code=404, headers={**_HEADERS, **allowed})
    return JSONResponse(status_json(view), headers={**_HEADERS, **allowed})


@router.get("/o/{slug}/{token}")
async def order_page(request: Request, slug: str, token: str) -> Response:
    try:
        store, _, view = await _view(request, slug, token, with_extras=True)
    except _Gone:
        return _gone(request)
    poll = getattr(request.app.state, "order_poll_seconds", POLL_SECONDS)
    html = _env.get_template("public/order.html").render(
        v=view, t=view.t, status_url=f"{request.url.path}.json", poll_ms=int(poll * 1000),
        note_url=f"{request.url.path}/note", nonce=form_nonce(_runtime(request).signers.of(store), token),
        note_saved=request.query_params.get("note") == "saved", choices=CHOICES, windows=WINDOWS, max_text=MAX_TEXT)
    return HTMLResponse(html, headers=_HEADERS)


# ---- the store's API ----------------------------------------------------------------------------


async def _order_id(request: Request, store: StoreRow, external_id: str) -> tuple[int, int] | None:
    async with _runtime(request).engine.connect() as conn:
        row = (await conn.execute(orders.select().with_only_columns(orders.c.id, orders.c.page_version).where(
            orders.c.store_id == store.id, orders.c.external_id == external_id))).first()
    return None if row is None else (int(row.id), int(row.page_version))


def _no_order(external_id: str) -> Response:
    return error(404, "not_found", f"no order {external_id!r} in this store", details=[
        {"loc": ["path", "order_id"], "field": "order_id", "message": "unknown order", "type": "not_found"}])


@api_router.get("/orders/{order_id}/order-page", responses=NOT_FOUND)
async def order_page_link(request: Request, order_id: str, store: StoreDep) -> Response:
    """The order page's link for the order (the store's own order id)."""
    found = await _order_id(request, store, order_id)
    if found is None:
        return _no_order(order_id)
    runtime = _runtime(request)
    url = order_url(runtime.settings.base_url, store.slug, runtime.signers.of(store), found[0], found[1],
                    runtime.clock.now())
    return JSONResponse({"order_id": order_id, "url": url, "token": url.rsplit("/", 1)[1]})


@api_router.post("/orders/{order_id}/order-page/revoke", responses=NOT_FOUND)
async def revoke_order_page(request: Request, order_id: str, store: StoreDep) -> Response:
    """Every order page link of the order made so far stops working."""
    async with _runtime(request).engine.begin() as conn:
        version = await revoke(conn, store.id, order_id)
    if version is None:
        return _no_order(order_id)
    return JSONResponse({"order_id": order_id, "revoked": True, "page_version": version})

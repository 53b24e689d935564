"""The delivery note on the order page, and in the store's API.

* ``POST /o/{store}/{token}/note`` — the page's form (``choice``, ``window``, ``text``, ``nonce``).
  Saved, the browser is sent back to the page (303), which shows the note; a client that asks for
  JSON (``Accept: application/json``) gets ``{"saved": bool, "delivery_note": ...}`` instead.
  A public page has no login, so the form is protected by what a page on another site cannot have or
  hide: the per-page ``nonce`` (``order_page.delivery_note.form_nonce``, an HMAC of the page's token)
  must match, and a browser's ``Origin`` (or ``Sec-Fetch-Site: cross-site``) must not name another
  site (the page sends no referrer, so its own posts may carry ``Origin: null``): else **403**.
  A field out of bounds: **400** naming it.  Once the order is out for delivery, delivered,
  cancelled or refunded: **409** naming why.  An altered or revoked token: the order
  page's polite **404**, showing nothing.  None of these stores anything.  Posts are rate limited
  (``web/rate_limits.py``, class ``public``, endpoint ``order_note``).
* ``GET /api/v1/orders/{order_id}/delivery-note`` — the note in force for the store's order, whether
  it can still change, and every earlier one.
"""

from __future__ import annotations

from typing import Final, TypedDict
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from afterorder.db.schema import orders
from afterorder.db.stores import StoreRow
from afterorder.order_page.delivery_note import (
    MAX_TEXT,
    NoteError,
    NoteJson,
    SavedNote,
    nonce_ok,
    note_history,
    parse_note,
    save_note,
)
from afterorder.order_page.links import OrderRef
from afterorder.order_page.view import OrderView, load_view
from afterorder.web.api import StoreDep
from afterorder.web.errors import error
from afterorder.web.openapi_errors import NOT_FOUND
from afterorder.web.order_page import _HEADERS, _env, _Gone, _gone, _runtime, _view
from afterorder.web.public import _form, _Refused

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["order page"])
CLOSED_MESSAGES: Final = {
    "out_for_delivery": "the order is out for delivery",
    "delivered": "the order has been delivered",
    "cancelled": "the order was cancelled",
    "refunded": "the order was refunded",
}


class SavedNoteJson(TypedDict):
    delivery_note: NoteJson
    saved_at: str
    revision: int


class NoteStateJson(TypedDict):
    order_id: str
    delivery_note: NoteJson | None
    saved_at: str | None
    editable: bool
    closed_because: str | None
    history: list[SavedNoteJson]


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _same_site(request: Request) -> bool:
    """False when the browser says the form came from another site: ``Sec-Fetch-Site: cross-site``, or an
    ``Origin`` that is not this server's.  The page sends no referrer, so a browser posting its own form
    may say ``Origin: null``: that, or no Origin at all (not a browser), leaves it to the nonce."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return False
    origin = request.headers.get("origin", "null").lower()
    if origin == "null":
        return True
    ours = {_origin(_runtime(request).settings.base_url), f"{request.url.scheme}://{request.headers.get('host', '')}"}
    return origin in ours


def _refused(request: Request, view: OrderView, status: int, code: str, line: str, message: str,
             field: str) -> Response:
    """The refusal: JSON naming the field for a client that asked for it, else the page's words."""
    if _wants_json(request):
        return error(status, code, message, details=[{"loc": ["body", field], "field": field, "message": message,
                                                      "type": code}], headers=_HEADERS)
    back = request.url.path.removesuffix("/note")
    html = _env.get_template("public/order_note_refused.html").render(
        v=view, t=view.t, line=line, back=back, code=code, field=field)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _saved_json(saved: SavedNote) -> SavedNoteJson:
    return SavedNoteJson(delivery_note=saved.note.as_json(), saved_at=saved.saved_at.isoformat(),
                         revision=saved.revision)


@router.post("/o/{slug}/{token}/note")
async def post_note(request: Request, slug: str, token: str) -> Response:
    try:
        store, ref, view = await _view(request, slug, token, with_extras=False)
    except _Gone:
        return _gone(request)
    t = view.t
    try:
        fields = await _form(request)
    except _Refused:
        return _refused(request, view, 413, "too_large", t["note.bad.text"].replace("{max}", str(MAX_TEXT)),
                        "the form is too large", "text")
    signer = _runtime(request).signers.of(store)
    if not _same_site(request) or not nonce_ok(signer, token, (fields.get("nonce") or [""])[0]):
        return _refused(request, view, 403, "bad_form", t["note.bad.form"],
                        "the form was not sent from this order page (nonce or Origin)", "nonce")
    if view.note_closed is not None:
        return _refused(request, view, 409, "note_closed", t[f"note.closed.{view.note_closed}"],
                        f"{CLOSED_MESSAGES[view.note_closed]}: its delivery note can no longer change", "order")
    try:
        note = parse_note(fields)
    except NoteError as exc:
        line = t[f"note.bad.{exc.field}"].replace("{max}", str(MAX_TEXT))
        return _refused(request, view, 400, "invalid", line, str(exc), exc.field)
    runtime = _runtime(request)
    try:
        saved = await save_note(runtime.intake, runtime.engine, store, ref.order_id, note, runtime.clock.now())
    except LookupError:
        return _gone(request)
    runtime.webhooks_due.set()
    if _wants_json(request):
        return JSONResponse({"saved": saved, "delivery_note": note.as_json()}, headers=_HEADERS)
    return RedirectResponse(f"{request.url.path.removesuffix('/note')}?note=saved#note", status_code=303,
                            headers=_HEADERS)


# ---- the store's API ----------------------------------------------------------------------------


async def note_state(request: Request, store: StoreRow, external_id: str) -> NoteStateJson | None:
    runtime = _runtime(request)
    async with runtime.engine.connect() as conn:
        order = (await conn.execute(select(orders.c.id, orders.c.page_version).where(
            orders.c.store_id == store.id, orders.c.external_id == external_id))).first()
        if order is None:
            return None
        view = await load_view(conn, store, OrderRef(order.id, order.page_version), lambda _: store.locale,
                               runtime.clock.now(), with_extras=False)
        history = await note_history(conn, store.id, order.id)
    closed = view.note_closed if view else None
    return NoteStateJson(
        order_id=external_id, delivery_note=history[0].note.as_json() if history else None,
        saved_at=history[0].saved_at.isoformat() if history else None, editable=closed is None,
        closed_because=closed, history=[_saved_json(h) for h in history])


@api_router.get("/orders/{order_id}/delivery-note", responses=NOT_FOUND)
async def get_delivery_note(request: Request, order_id: str, store: StoreDep) -> Response:
    """The customer's delivery note for the order (the store's own order id), and the earlier ones."""
    found = await note_state(request, store, order_id)
    if found is None:
        return error(404, "not_found", f"no order {order_id!r} in this store", details=[
            {"loc": ["path", "order_id"], "field": "order_id", "message": "unknown order", "type": "not_found"}])
    return JSONResponse(found)

"""The thank-you page block over HTTP (the feature: ``afterorder.thank_you``).

For the store's own order-confirmation page, reached from another origin (the shop's):

* ``GET /w/{store}.js`` — the script (``thank_you/block.js``, the same bytes for every store, well
  under 20 KB): ``Cache-Control: public, max-age=3600``, an ``ETag`` (``If-None-Match`` gets 304).
* ``GET /w/{store}/{token}.json?lang=`` — what the block shows (``thank_you.block.BlockJson``);
  ``token`` is the order page's (``/o/{store}/{token}``).
* ``POST /w/{store}/{token}/newsletter`` ``{"locale": "ja"}`` — subscribe (consent method
  ``thank-you-page``); answers ``{"status": "granted"|"pending", "changed": bool}``.
* ``POST /w/{store}/{token}/survey`` ``{"answer": "social"}`` — the "how did you hear about us" answer;
  ``{"answer": ..., "changed": bool}``, or 409 ``already_answered`` with the kept one.

An unknown store and an altered, foreign, expired or revoked token all get the same **404**
``{"error": "not_found"}``: nothing of any store or order.  CORS: only the store's shop origins
(``thank_you.origins``) get ``Access-Control-Allow-Origin`` (their own origin, never ``*``, never
credentials); a request that carries another ``Origin`` is refused (403) before the token is
looked at, so nothing is read or stored for it.  POSTs must be ``application/json`` (a preflight,
which answers the shop's origins only).  The JSON is never cached.  Rate limits: ``rate_limits``
(``public`` class, one bucket for the reads and one for the POSTs).

The store's API: ``GET /api/v1/thank-you-block`` (the snippet to embed and the origins in force) and
``PUT /api/v1/thank-you-block`` (set the shop origins; ``null`` goes back to the connection's).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from afterorder.audit import log as audit
from afterorder.audit import sources
from afterorder.audit.changes import setting_changes
from afterorder.db.stores import StoreRow, get_store
from afterorder.intake.limits import Refused, read_json
from afterorder.order_page.links import OrderRef, read_token
from afterorder.runtime import Runtime
from afterorder.signing import BadToken
from afterorder.thank_you import answers
from afterorder.thank_you.block import load_block
from afterorder.thank_you.origins import OriginError, ShopOrigins, set_shop_origins, shop_origins
from afterorder.thank_you.text import CHOICES, locales
from afterorder.web.api import ApiError, StoreDep, runtime_of
from afterorder.web.errors import error
from afterorder.web.public_text import page_locale

SCRIPT: Final = (Path(__file__).resolve().parents[1] / "thank_you" / "block.js").read_bytes()
ETAG: Final = '"' + hashlib.sha256(SCRIPT).hexdigest()[:32] + '"'
SCRIPT_HEADERS: Final = {"Cache-Control": "public, max-age=3600, stale-while-revalidate=86400", "ETag": ETAG,
                         "Cross-Origin-Resource-Policy": "cross-origin"}
MAX_BODY: Final = 1024
_NO_STORE: Final = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["thank-you block"])


class _Stop(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _cors(origin: str | None, allowed: ShopOrigins | None) -> dict[str, str]:
    if allowed is None or not allowed.allows(origin):
        return {"Vary": "Origin"}
    assert origin is not None
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _json(body: Any, status: int, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **headers})


def _not_found(cors: dict[str, str]) -> JSONResponse:
    return _json({"error": "not_found", "message": "no such order link"}, 404, cors)


def _refused(status: int, code: str, message: str, field: str, cors: dict[str, str]) -> JSONResponse:
    return error(status, code, message, headers={**_NO_STORE, **cors}, details=[
        {"loc": ["body", field], "field": field, "message": message, "type": code}])


async def _open(request: Request, slug: str, token: str) -> tuple[StoreRow, OrderRef, dict[str, str]]:
    """The store and order the address names, and the CORS headers for this request's origin; the
    same 404 for an unknown store and any bad token, a 403 for an origin that is not the shop's."""
    origin = request.headers.get("origin")
    runtime = _runtime(request)
    async with runtime.engine.connect() as conn:
        store = await get_store(conn, slug)
        if store is None:
            raise _Stop(_not_found({"Vary": "Origin"}))
        allowed = await shop_origins(conn, store.id)
    cors = _cors(origin, allowed)
    if origin is not None and not allowed.allows(origin):
        raise _Stop(error(403, "origin_not_allowed", "this site is not one of the store's shop origins",
                          headers={**_NO_STORE, **cors}))
    try:
        ref = read_token(runtime.signers.of(store), token, runtime.clock.now())
    except BadToken:
        raise _Stop(_not_found(cors)) from None
    return store, ref, cors


@router.get("/w/{slug}.js")
async def block_script(request: Request, slug: str) -> Response:
    if ETAG in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=SCRIPT_HEADERS)
    return Response(SCRIPT, media_type="text/javascript; charset=utf-8", headers=SCRIPT_HEADERS)


@router.get("/w/{slug}/{token}.json")
async def block_data(request: Request, slug: str, token: str, lang: str = "") -> Response:
    try:
        store, ref, cors = await _open(request, slug, token)
    except _Stop as stop:
        return stop.response
    runtime = _runtime(request)
    page_lang = lang[:35] or None
    async with runtime.engine.connect() as conn:
        block = await load_block(conn, store, runtime.signers.of(store), ref,
                                 lambda customer: page_locale(customer, page_lang, store.locale),
                                 runtime.clock.now(), runtime.settings.base_url)
    if block is None:
        return _not_found(cors)
    return _json(block, 200, cors)


async def _preflight(request: Request, slug: str) -> Response:
    origin = request.headers.get("origin")
    async with _runtime(request).engine.connect() as conn:
        store = await get_store(conn, slug)
        allowed = await shop_origins(conn, store.id) if store is not None else None
    cors = _cors(origin, allowed)
    if "Access-Control-Allow-Origin" not in cors:
        return Response(status_code=403, headers={**cors, "Cache-Control": "no-store"})
    return Response(status_code=204, headers={
        **cors, "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600"})


@router.options("/w/{slug}/{token}/newsletter")
async def newsletter_preflight(request: Request, slug: str, token: str) -> Response:
    return await _preflight(request, slug)


@router.options("/w/{slug}/{token}/survey")
async def survey_preflight(request: Request, slug: str, token: str) -> Response:
    return await _preflight(request, slug)


async def _body(request: Request, cors: dict[str, str]) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Stop(error(415, "unsupported_media_type", "content-type: send application/json",
                          headers={**_NO_STORE, **cors}))
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise _Stop(error(413, "too_large", f"the body is over {MAX_BODY} bytes", headers={**_NO_STORE, **cors}))
    try:
        data = read_json(raw or b"null")
    except Refused:
        raise _Stop(error(400, "bad_json", "the body is not JSON", headers={**_NO_STORE, **cors})) from None
    if not isinstance(data, dict):
        raise _Stop(error(422, "invalid_request", "send a JSON object", headers={**_NO_STORE, **cors}))
    return data


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/w/{slug}/{token}/newsletter")
async def newsletter(request: Request, slug: str, token: str) -> Response:
    try:
        store, ref, cors = await _open(request, slug, token)
        body = await _body(request, cors)
    except _Stop as stop:
        return stop.response
    locale = body.get("locale")
    if locale not in locales():
        return _refused(422, "invalid_request", f"locale: one of {', '.join(locales())}", "locale", cors)
    runtime = _runtime(request)
    try:
        done = await answers.subscribe(runtime.engine, store, ref, str(locale), _client(request), runtime.clock.now())
    except answers.Gone:
        return _not_found(cors)
    except answers.Unavailable:
        return _refused(409, "no_email", "the order's customer has no email address", "locale", cors)
    runtime.poke()  # a pending consent's confirmation mail goes out with the next round
    return _json({"status": done.status, "changed": done.changed}, 201 if done.changed else 200, cors)


@router.post("/w/{slug}/{token}/survey")
async def survey(request: Request, slug: str, token: str) -> Response:
    try:
        store, ref, cors = await _open(request, slug, token)
        body = await _body(request, cors)
    except _Stop as stop:
        return stop.response
    choice = body.get("answer")
    if choice not in CHOICES:
        return _refused(422, "invalid_request", f"answer: one of {', '.join(CHOICES)}", "answer", cors)
    runtime = _runtime(request)
    try:
        done = await answers.answer(runtime.intake, runtime.engine, runtime.renderer, store,
                                    runtime.settings.base_url, ref, str(choice), runtime.clock.now())
    except answers.Gone:
        return _not_found(cors)
    except answers.Unavailable:
        return _refused(409, "no_customer", "the order has no customer to ask", "answer", cors)
    except answers.AlreadyAnswered as kept:
        return _json({"error": "already_answered", "message": "the survey was answered already",
                      "answer": kept.answer}, 409, cors)
    runtime.poke()
    return _json({"answer": done.answer, "changed": done.changed}, 201 if done.changed else 200, cors)


# ---- the store's API ----------------------------------------------------------------------------


class ThankYouBlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    shop_origins: Annotated[list[Annotated[str, Field(max_length=200)]] | None, Field(
        max_length=10, description="the shop's origins, https://shop.example; null: the platform connection's")]


def _described(request: Request, store: StoreRow, found: ShopOrigins) -> dict[str, Any]:
    script = f"{runtime_of(request).settings.base_url.rstrip('/')}/w/{store.slug}.js"
    return {"script_url": script, "snippet": f'<script async src="{script}" data-order="ORDER_PAGE_TOKEN"></script>',
            "shop_origins": list(found.origins), "source": found.source}


@api_router.get("/thank-you-block", summary="The thank-you block's snippet and the shop origins it answers")
async def get_block_settings(request: Request, store: StoreDep) -> dict[str, Any]:
    async with runtime_of(request).engine.connect() as conn:
        found = await shop_origins(conn, store.id)
    return _described(request, store, found)


@api_router.put("/thank-you-block", summary="Set the shop origins the thank-you block answers")
async def put_block_settings(request: Request, store: StoreDep, body: ThankYouBlockIn) -> dict[str, Any]:
    runtime = runtime_of(request)
    try:
        async with runtime.engine.begin() as conn:
            before = await shop_origins(conn, store.id)
            found = await set_shop_origins(conn, store.id, body.shop_origins, runtime.clock.now())
            for changed in setting_changes({"shop_origins": list(before.origins)},
                                           {"shop_origins": list(found.origins)}, "thank_you_block."):
                await audit.record(conn, store.id, sources.api_key(request, store.api_key_prefix), changed,
                                   runtime.clock.now())
    except OriginError as exc:
        raise ApiError(error(422, "invalid_request", f"shop_origins: {exc}", details=[
            {"loc": ["body", "shop_origins"], "field": "shop_origins", "message": str(exc),
             "type": "invalid_origin"}])) from None
    return _described(request, store, found)

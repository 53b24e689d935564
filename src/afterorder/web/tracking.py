"""Public tracking endpoints: the open pixel, the click redirect and the short links of SMS.

None needs a login.  A token that does not verify with its store's key gets 400 and nothing
is recorded; the redirect only ever goes to the URL the store's key signed (no open redirect).
A failure to record never costs the recipient the page they clicked for.

``GET /c/{code}`` (an SMS's short link, :mod:`afterorder.tracking.short_links`) finds its target in
the stored message and records the click like the click redirect does (a ``message.clicked`` event
on that message, so clicks count per channel): 400 for a code the store's key did not make, 404 when
the message (or that link of it) does not exist.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from afterorder.db.stores import StoreRow, get_store_by_id
from afterorder.domain import EventType
from afterorder.runtime import Runtime
from afterorder.signing import BadToken
from afterorder.tracking import short_links
from afterorder.tracking.engagement import record
from afterorder.tracking.links import CLICK, OPEN, peek_store
from afterorder.web.errors import error

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1×1 transparent GIF
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache",
            "Expires": "0"}


async def _verified(request: Request, purpose: str, token: str) -> tuple[StoreRow, dict[str, Any]]:
    runtime: Runtime = request.app.state.runtime
    store_id = peek_store(token)
    async with runtime.engine.connect() as conn:
        store = await get_store_by_id(conn, store_id)
    if store is None:
        raise BadToken("the token names no known store")
    payload = runtime.signers.of(store).verify(purpose, token)
    if not isinstance(payload, dict) or payload.get("s") != store.id or not isinstance(payload.get("k"), str):
        raise BadToken("the token's payload is not a tracking link")
    return store, payload


async def _record(request: Request, store: StoreRow, key: str, kind: EventType, url: str | None) -> None:
    runtime: Runtime = request.app.state.runtime
    try:
        found = await record(runtime.engine, runtime.intake, store, key, kind, runtime.clock.now(), url=url,
                             user_agent=request.headers.get("user-agent"),
                             ip=request.client.host if request.client else None)
        if not found:
            log.info("tracking link for a message that no longer exists: store %s key %s", store.slug, key)
    except Exception:  # the recipient still gets the pixel / the page
        log.exception("could not record a %s of %s/%s", kind.value, store.slug, key)


@router.get("/t/o/{token}.gif")
async def open_pixel(request: Request, token: str) -> Response:
    try:
        store, payload = await _verified(request, OPEN, token)
    except BadToken as exc:
        return error(400, "bad_token", f"this tracking link is not valid: {exc}", headers=NO_CACHE)
    await _record(request, store, payload["k"], EventType.MESSAGE_OPENED, None)
    return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)


@router.get("/t/c/{token}")
async def click(request: Request, token: str) -> Response:
    try:
        store, payload = await _verified(request, CLICK, token)
        url = payload.get("u")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise BadToken("the link has no web address to go to")
    except BadToken as exc:
        return error(400, "bad_token", f"this link is not valid: {exc}", headers=NO_CACHE)
    await _record(request, store, payload["k"], EventType.MESSAGE_CLICKED, url)
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


async def _short_link(request: Request, code: str) -> tuple[StoreRow, short_links.ShortLink]:
    runtime: Runtime = request.app.state.runtime
    claimed = short_links.peek(code)
    async with runtime.engine.connect() as conn:
        store = await get_store_by_id(conn, claimed.store_id)
    if store is None:
        raise BadToken("the link names no known store")
    return store, short_links.verify(runtime.signers.of(store), code)


@router.get("/c/{code}")
async def short_click(request: Request, code: str) -> Response:
    try:
        store, link = await _short_link(request, code)
    except BadToken as exc:
        return error(400, "bad_link", f"this link is not valid: {exc}", headers=NO_CACHE)
    runtime: Runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        url = await short_links.target(conn, store.id, link.key, link.index)
    if url is None:
        return error(404, "unknown_link", "this link belongs to a message that no longer exists", headers=NO_CACHE)
    if link.record:
        await _record(request, store, link.key, EventType.MESSAGE_CLICKED, url)
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)

"""``POST /public/{store}/back-in-stock`` {email, product_id[, locale]}: a shopper asks to be told once when a
product is back.  Public (the store's product page posts it), so it takes only an email and a product, and
answers with a signed receipt the page may keep.  The request is recorded with its wording, time and source
address (the record of what the shopper asked for); the notice goes out on the next ``product.restocked``
when the store has the ``back-in-stock`` flow enabled (see afterorder.promotions.back_in_stock)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.responses import JSONResponse

from afterorder.content.i18n import resolve_locale
from afterorder.db.schema import customers
from afterorder.db.stores import get_store
from afterorder.domain import CustomerIn, Event, EventType
from afterorder.intake.limits import Refused, read_json
from afterorder.promotions.back_in_stock import WORDING, subscribe
from afterorder.runtime import Runtime
from afterorder.web.body_limit import BACK_IN_STOCK_BYTES
from afterorder.web.errors import error
from afterorder.web.openapi_errors import JSON_BODY, NOT_FOUND

router = APIRouter()
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_BODY = BACK_IN_STOCK_BYTES


@router.post("/public/{slug}/back-in-stock", responses={**JSON_BODY, **NOT_FOUND})
async def back_in_stock(request: Request, slug: str) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        store = await get_store(conn, slug)
    if store is None:
        return error(404, "unknown_store", f"no store {slug!r}")
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    try:
        data: Any = read_json(body or b"null")
    except Refused:
        return error(400, "bad_json", "the body is not JSON; send {\"email\": ..., \"product_id\": ...}")
    if not isinstance(data, dict):
        return error(422, "invalid", "send a JSON object {\"email\": ..., \"product_id\": ...}")
    email, product_id, locale = data.get("email"), data.get("product_id"), data.get("locale")
    if not isinstance(email, str) or len(email) > 320 or not EMAIL.fullmatch(email.strip()):
        return error(422, "invalid", "email: expected an email address")
    if not isinstance(product_id, str | int) or not str(product_id).strip() or len(str(product_id)) > 255:
        return error(422, "invalid", "product_id: expected the product's id in the store")
    if locale is not None and (not isinstance(locale, str) or len(locale) > 35):
        return error(422, "invalid", "locale: expected a locale such as ja, zh-Hans or en")
    email, product_id = email.strip().lower(), str(product_id).strip()
    now = runtime.clock.now()
    customer_id = await _customer_id(runtime, store.id, email)
    if customer_id is None:  # a new address: the customer is made the usual way, by an event
        await runtime.intake.ingest(store, [Event(
            id=f"back-in-stock:{email}:{product_id}:{now.isoformat()}", type=EventType.CUSTOMER_UPDATED,
            occurred_at=now, customer=CustomerIn(email=email, locale=locale if isinstance(locale, str) else None),
            properties={"back_in_stock": product_id})], source="back-in-stock")
        customer_id = await _customer_id(runtime, store.id, email)
    if customer_id is None:
        return error(409, "not_stored", "the address could not be stored; try again")
    wording = WORDING[resolve_locale(locale if isinstance(locale, str) else None, list(WORDING), store.locale)]
    forwarded = request.client.host if request.client else None
    async with runtime.engine.begin() as conn:
        sub_id, created = await subscribe(conn, store.id, customer_id, email, product_id, wording=wording,
                                          source_ip=forwarded, now=now)
    receipt = runtime.signers.of(store).sign("back-in-stock", {"s": sub_id, "p": product_id})
    return JSONResponse({"status": "subscribed" if created else "already_subscribed", "product_id": product_id,
                         "email": email, "receipt": receipt, "wording": wording},
                        status_code=201 if created else 200)


async def _customer_id(runtime: Runtime, store_id: int, email: str) -> int | None:
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(select(customers.c.id).where(
            customers.c.store_id == store_id, func.lower(customers.c.email) == email).order_by(customers.c.id)
            .limit(1))).first()
    return int(row.id) if row else None

"""``GET /api/v1/customers/{id}/export`` and ``POST /api/v1/customers/{id}/erase``, with the
store's API key.  ``id`` is the store's own customer id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from afterorder.privacy.data_rights import NoSuchCustomer, erase_customer, export_customer
from afterorder.web.api import StoreDep, runtime_of
from afterorder.web.errors import error

router = APIRouter(prefix="/api/v1")


@router.get("/customers/{customer_id}/export", summary="Everything held about one customer (JSON)")
async def export(request: Request, store: StoreDep, customer_id: str) -> Response:
    try:
        async with runtime_of(request).engine.connect() as conn:
            data: dict[str, Any] = await export_customer(conn, store.id, customer_id)
    except NoSuchCustomer as exc:
        return error(404, "no_such_customer", str(exc))
    return JSONResponse(data)


@router.post("/customers/{customer_id}/erase",
             summary="Remove a customer's personal data; totals and the suppression (as a hash) are kept")
async def erase(request: Request, store: StoreDep, customer_id: str) -> Response:
    runtime = runtime_of(request)
    try:
        async with runtime.engine.begin() as conn:
            touched = await erase_customer(conn, store.id, customer_id, runtime.clock.now())
    except NoSuchCustomer as exc:
        return error(404, "no_such_customer", str(exc))
    return JSONResponse({"erased": touched})

"""A local Ecwid REST API (the part afterorder reads), answering as Ecwid does.

``GET /api/v3/{storeId}/orders/{orderId}``, ``GET /api/v3/{storeId}/customers/{customerId}`` and
``GET /api/v3/{storeId}/orders?offset=&limit=`` (at most 100 a page; unfinished orders, paymentStatus
``INCOMPLETE``, are left out of the search as Ecwid leaves them out unless asked), each wanting
``Authorization: Bearer <token>`` of that store (else 403 ``{"errorMessage": ...}``); an unknown store,
order or customer is 404 with an ``errorMessage``.  Orders are looked up by ``id`` and by
``orderNumber`` (the 2020 API's key).  ``sink.requests`` records every request; ``sink.trouble``
answers instead (``rate_limited`` is Ecwid's 429 with ``Retry-After``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.dev.sinks.base import Sink

MAX_LIMIT = 100


@dataclass
class EcwidStore:
    """One Ecwid store as the local API holds it."""

    token: str
    orders: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def order(self, key: str) -> dict[str, Any] | None:
        return next((o for o in self.orders if key in (str(o.get("id")), str(o.get("orderNumber")))), None)

    def put(self, order: dict[str, Any]) -> None:
        """Add the order, or replace the one with its id (an update in the Ecwid admin)."""
        key = str(order.get("id") or order.get("orderNumber"))
        self.orders = [o for o in self.orders if str(o.get("id") or o.get("orderNumber")) != key] + [order]


def error(status: int, message: str) -> Response:
    return JSONResponse({"errorMessage": message}, status)


def rate_limited(retry_after: float) -> Response:
    """Ecwid's answer past its rate limit."""
    return JSONResponse({"errorMessage": "Too many requests"}, 429, headers={"Retry-After": f"{retry_after:g}"})


def app(sink: Sink, stores: dict[str, EcwidStore]) -> Starlette:
    """The local Ecwid API for ``stores`` (Ecwid store id → its token, orders, customers)."""

    async def allowed(request: Request) -> tuple[EcwidStore | None, Response | None]:
        seen, trouble = await sink.seen(request)
        if trouble is not None:
            return None, trouble
        store = stores.get(request.path_params["store_id"])
        if store is None:
            return None, error(404, f"Store {request.path_params['store_id']} not found")
        given = seen.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), store.token.encode()):
            return None, error(403, "Invalid token")
        return store, None

    async def get_order(request: Request) -> Response:
        store, refused = await allowed(request)
        if store is None:
            return refused or error(500, "")
        order = store.order(request.path_params["order_id"])
        if order is None:
            return error(404, f"Order #{request.path_params['order_id']} not found")
        return JSONResponse(order)

    async def get_customer(request: Request) -> Response:
        store, refused = await allowed(request)
        if store is None:
            return refused or error(500, "")
        found = store.customers.get(request.path_params["customer_id"])
        return JSONResponse(found) if found is not None else error(404, "Customer not found")

    async def search_orders(request: Request) -> Response:
        store, refused = await allowed(request)
        if store is None:
            return refused or error(500, "")
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", str(MAX_LIMIT)))
        except ValueError:
            return error(400, "offset and limit must be numbers")
        if offset < 0 or not 0 < limit <= MAX_LIMIT:
            return error(400, f"limit must be from 1 to {MAX_LIMIT}, offset 0 or more")
        finished = [o for o in store.orders if o.get("paymentStatus") != "INCOMPLETE"]
        page = finished[offset:offset + limit]
        return JSONResponse({"total": len(finished), "count": len(page), "offset": offset, "limit": limit,
                             "items": page})

    return Starlette(routes=[
        Route("/api/v3/{store_id}/orders", search_orders, methods=["GET"]),
        Route("/api/v3/{store_id}/orders/{order_id}", get_order, methods=["GET"]),
        Route("/api/v3/{store_id}/customers/{customer_id}", get_customer, methods=["GET"]),
    ])

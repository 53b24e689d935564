"""Ecwid's REST API, the part afterorder reads: an order, a customer, and the order history page by page.

``GET {api_base}/api/v3/{storeId}/orders/{orderId}``, ``.../customers/{customerId}`` and
``.../orders?offset=&limit=`` (answers ``{"total", "count", "offset", "limit", "items"}``), with
``Authorization: Bearer <token>``.  ``api_base`` is ``https://app.ecwid.com`` unless the store
connected with another (a local Ecwid in tests and development: ``afterorder.dev.sinks.ecwid``).

An answer becomes a value or one of three errors, so the caller decides without reading HTTP:
``EcwidBusy`` (429, with the seconds of ``Retry-After``: a delay, never a failure), ``EcwidGone``
(404: the order was deleted; fetching again will not help), ``EcwidFailed`` (anything else; its
``temporary`` says whether trying again later can help: 5xx and network errors can, 400/401/403 —
a wrong token, a missing ``read_orders`` scope — cannot until the store reconnects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_API_BASE = "https://app.ecwid.com"
DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 says no Retry-After
PAGE = 100  # Ecwid's largest page of orders


class EcwidError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EcwidBusy(EcwidError):
    """Ecwid's rate limit (429): ask again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EcwidGone(EcwidError):
    """404: no such order (or customer) in this Ecwid store any more."""


class EcwidFailed(EcwidError):
    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True)
class OrdersPage:
    total: int
    offset: int
    items: list[dict[str, Any]] = field(default_factory=list)


def retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (delta seconds); the default when absent or unreadable."""
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), 3600.0)


class EcwidApi:
    """One Ecwid store's REST API (its store id, token and API base), over an injected HTTP client."""

    def __init__(self, http: httpx.AsyncClient, account_id: str, token: str, api_base: str | None = None) -> None:
        self.http = http
        self.base = f"{(api_base or DEFAULT_API_BASE).rstrip('/')}/api/v3/{quote(account_id, safe='')}"
        self.token = token

    async def order(self, order_id: str) -> dict[str, Any]:
        return await self._get(f"/orders/{quote(order_id, safe='')}", what=f"order {order_id}")

    async def customer(self, customer_id: str) -> dict[str, Any]:
        return await self._get(f"/customers/{quote(customer_id, safe='')}", what=f"customer {customer_id}")

    async def orders(self, offset: int, limit: int = PAGE) -> OrdersPage:
        found = await self._get("/orders", what="orders", params={"offset": offset, "limit": limit})
        items = [o for o in found.get("items") or [] if isinstance(o, dict)]
        total = found.get("total")
        return OrdersPage(total=total if isinstance(total, int) else offset + len(items), offset=offset, items=items)

    async def _get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            answer = await self.http.get(self.base + path, params=params,
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise EcwidFailed(f"Ecwid did not answer for {what}: {type(exc).__name__}: {exc}", temporary=True) from None
        if answer.status_code == 200:
            try:
                body = answer.json()
            except ValueError:
                raise EcwidFailed(f"Ecwid answered {what} with a body that is not JSON", temporary=True) from None
            if not isinstance(body, dict):
                raise EcwidFailed(f"Ecwid answered {what} with JSON that is not an object", temporary=True)
            return body
        reason = _error_message(answer)
        if answer.status_code == 429:
            raise EcwidBusy(f"Ecwid is rate limiting {what}{reason}", retry_after(answer.headers.get("retry-after")))
        if answer.status_code == 404:
            raise EcwidGone(f"Ecwid has no {what}{reason}")
        hint = {401: " (the token is wrong: reconnect the store)",
                403: " (the token lacks a scope, e.g. read_orders: reconnect the store)"}.get(answer.status_code, "")
        raise EcwidFailed(f"Ecwid answered {answer.status_code} for {what}{reason}{hint}",
                          temporary=answer.status_code >= 500)


def _error_message(answer: httpx.Response) -> str:
    """``: <errorMessage>`` from Ecwid's optional error body, else nothing."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    message = body.get("errorMessage") if isinstance(body, dict) else None
    return f": {message}" if isinstance(message, str) and message else ""

"""One EC-CUBE shop's Web API (plugin Api42): an OAuth2 access token, then GraphQL queries.

The token comes from the plugin's token endpoint, ``POST {base}/token`` (form-encoded
``grant_type=client_credentials``, ``client_id``, ``client_secret``, ``scope=read``), answered
``{"token_type": "Bearer", "expires_in": 3600, "access_token": "..."}``.  It is kept (``TokenCache``,
shared by every fetch of the process) until a minute before it expires; a 401 from ``POST {base}/api``
drops it and the query is asked once more with a fresh one.

Answers become the errors ``intake.eccube_fetch`` decides on: ``EccubeGone`` (the order is not
there: ``{"data": {"order": null}}``), ``EccubeFailed(temporary=...)`` (a network error or 5xx is
temporary; the token endpoint's ``invalid_client`` 401, a 400 ``unsupported_grant_type`` and GraphQL
errors are not: the shop's set-up must change).  The customer's ``mailmaga_flg`` exists only where
the mail-magazine plugin is installed and the shop allowed it in the API: when GraphQL says it
cannot query that field, the query is asked again without it (consent then stays unknown).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from afterorder.clock import Clock

TOKEN_MARGIN = timedelta(seconds=60)  # a token this close to its expiry is renewed first
CONSENT_FIELD = "mailmaga_flg"

_CUSTOMER = "id email name01 name02 kana01 kana02 phone_number postal_code addr01 addr02 create_date update_date " \
            "Pref { id name } Status { id name }"
_ORDER = """id order_no name01 name02 kana01 kana02 company_name email phone_number postal_code addr01 addr02
    subtotal discount delivery_fee_total charge tax total payment_total payment_method currency_code
    order_date payment_date create_date update_date
    Pref { id name } Country { id name } OrderStatus { id name }
    Customer { id email name01 name02 phone_number CONSENT }
    OrderItems { id product_name product_code class_category_name1 class_category_name2 price tax tax_rate quantity
                 OrderItemType { id name } Product { id } ProductClass { id } }
    Shippings { id name01 name02 company_name postal_code addr01 addr02 phone_number Pref { id name }
                shipping_delivery_name shipping_delivery_time shipping_delivery_date shipping_date tracking_number
                Delivery { id name service_name confirm_url } }"""


class EccubeFailed(Exception):
    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.message = message
        self.temporary = temporary


class EccubeGone(EccubeFailed):
    """The order or customer is not in the shop (deleted): fetching again will not find it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=False)


def order_query(consent: bool = True) -> str:
    fields = _ORDER.replace("CONSENT", CONSENT_FIELD if consent else "")
    return "query ($id: ID!) { order(id: $id) { " + fields + " } }"


def customer_query(consent: bool = True) -> str:
    fields = _CUSTOMER + (f" {CONSENT_FIELD}" if consent else "")
    return "query ($id: ID!) { customer(id: $id) { " + fields + " } }"


@dataclass
class Token:
    value: str
    expires_at: datetime


@dataclass
class TokenCache:
    """Access tokens by (API base, client id), and the shops whose API has no ``mailmaga_flg``."""

    tokens: dict[tuple[str, str], Token] = field(default_factory=dict)
    no_consent_field: set[str] = field(default_factory=set)
    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)


class EccubeApi:
    """One shop's API (its base URL and OAuth2 client), over an injected HTTP client and token cache."""

    def __init__(self, http: httpx.AsyncClient, clock: Clock, cache: TokenCache, base: str, client_id: str,
                 client_secret: str) -> None:
        self.http = http
        self.clock = clock
        self.cache = cache
        self.base = base.rstrip("/")
        self.key = (self.base, client_id)
        self.client_id = client_id
        self.client_secret = client_secret

    async def order(self, order_id: str) -> dict[str, Any]:
        return await self._entity("order", order_id, order_query)

    async def customer(self, customer_id: str) -> dict[str, Any]:
        return await self._entity("customer", customer_id, customer_query)

    async def _entity(self, name: str, entity_id: str, query: Any) -> dict[str, Any]:
        consent = self.base not in self.cache.no_consent_field
        body = await self._query(query(consent), {"id": entity_id}, what=f"{name} {entity_id}")
        problems = _errors(body)
        if consent and any(CONSENT_FIELD in p for p in problems):
            self.cache.no_consent_field.add(self.base)
            body = await self._query(query(False), {"id": entity_id}, what=f"{name} {entity_id}")
            problems = _errors(body)
        if problems:
            raise EccubeFailed(f"EC-CUBE's API refused the {name} query: {'; '.join(problems)[:500]}", temporary=False)
        found = body.get("data", {}).get(name) if isinstance(body.get("data"), dict) else None
        if found is None:
            raise EccubeGone(f"EC-CUBE has no {name} {entity_id}")
        if not isinstance(found, dict):
            raise EccubeFailed(f"EC-CUBE answered the {name} query with {type(found).__name__}", temporary=True)
        return found

    async def _query(self, query: str, variables: dict[str, Any], *, what: str) -> dict[str, Any]:
        for fresh in (False, True):
            token = await self.token(renew=fresh)
            answer = await self._post(f"{self.base}/api", what, json={"query": query, "variables": variables},
                                      headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            if answer.status_code == 401 and not fresh:
                continue  # the token expired or was revoked: once more with a new one
            if answer.status_code == 200:
                return _json_object(answer, what)
            raise EccubeFailed(f"EC-CUBE's API answered {answer.status_code} for {what}{_reason(answer)}"
                               f"{' (the client lacks the read scope)' if answer.status_code == 403 else ''}",
                               temporary=answer.status_code >= 500 or answer.status_code == 429)
        raise EccubeFailed(f"EC-CUBE's API refused a new token for {what} (401)", temporary=False)

    async def token(self, *, renew: bool = False) -> str:
        """The cached access token, or a new one from the token endpoint."""
        lock = self.cache.locks.setdefault(self.key, asyncio.Lock())
        async with lock:
            held = self.cache.tokens.get(self.key)
            if held is not None and not renew and held.expires_at - TOKEN_MARGIN > self.clock.now():
                return held.value
            answer = await self._post(f"{self.base}/token", "an access token", data={
                "grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret, "scope": "read"}, headers={"Accept": "application/json"})
            if answer.status_code != 200:
                hint = {401: " (the client id or secret is wrong: reconnect the store)",
                        400: " (the shop must allow the client_credentials grant: see docs/platforms.md)"}
                raise EccubeFailed(f"EC-CUBE's token endpoint answered {answer.status_code}{_reason(answer)}"
                                   f"{hint.get(answer.status_code, '')}", temporary=answer.status_code >= 500)
            body = _json_object(answer, "an access token")
            value, lifetime = body.get("access_token"), body.get("expires_in")
            if not isinstance(value, str) or not value:
                raise EccubeFailed("EC-CUBE's token endpoint answered without an access_token", temporary=True)
            seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else 3600
            self.cache.tokens[self.key] = Token(value, self.clock.now() + timedelta(seconds=seconds))
            return value

    async def _post(self, url: str, what: str, **request: Any) -> httpx.Response:
        try:
            return await self.http.post(url, **request)
        except httpx.HTTPError as exc:
            raise EccubeFailed(f"EC-CUBE did not answer for {what}: {type(exc).__name__}: {exc}",
                               temporary=True) from None


def _json_object(answer: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        raise EccubeFailed(f"EC-CUBE answered {what} with a body that is not JSON", temporary=True) from None
    if not isinstance(body, dict):
        raise EccubeFailed(f"EC-CUBE answered {what} with JSON that is not an object", temporary=True)
    return body


def _errors(body: dict[str, Any]) -> list[str]:
    """GraphQL's ``errors[].message``."""
    found = body.get("errors")
    if not isinstance(found, list):
        return []
    return [str(e.get("message")) if isinstance(e, dict) else str(e) for e in found]


def _reason(answer: httpx.Response) -> str:
    """``: <error_description or error>`` from an OAuth2 error body, else nothing."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    said = body.get("error_description") or body.get("message") or body.get("error")
    return f": {said}" if isinstance(said, str) and said else ""

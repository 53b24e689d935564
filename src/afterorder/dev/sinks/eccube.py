"""A local EC-CUBE Web API (plugin Api42, the part afterorder reads), answering as the plugin does.

* ``POST /token`` (form-encoded): ``grant_type=client_credentials`` with the shop's ``client_id`` and
  ``client_secret`` answers ``{"token_type": "Bearer", "expires_in": 3600, "access_token": ...}``;
  a wrong client is 401 ``invalid_client``, another grant 400 ``unsupported_grant_type``, a missing
  field 400 ``invalid_request`` — league/oauth2-server's error bodies (``error``, ``error_description``,
  ``hint``, ``message``), which the plugin's token route (``oauth2_token``) returns.
* ``POST /api`` (JSON ``{"query", "variables"}``) with ``Authorization: Bearer <token>``: ``order(id)``
  and ``customer(id)``, each answering only the fields the query selects (``{"data": {"order": null}}``
  when there is no such entity).  A field the shop's schema does not have is GraphQL's validation error
  (``Cannot query field "x" on type "Customer".``, status 200, no data), as graphql-php reports it; a
  shop without the mail-magazine field is ``EccubeShop(consent_field=False)``.  An unknown or
  expired token is 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` and an
  ``{"error": "invalid_token", ...}`` body (RFC 6750; the exact body EC-CUBE's firewall writes was not
  checked against a running shop — afterorder reads only the status).

``shop.revoke()`` ends every token (the next query gets the 401); ``sink.requests`` records every
request; ``sink.trouble`` answers instead (a 503, say).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.dev.sinks.base import Sink

TOKEN_LIFETIME = 3600
Selection = dict[str, "Selection"]


@dataclass
class EccubeShop:
    """One EC-CUBE shop as the local API holds it: its API client, orders and customers by id."""

    client_id: str
    client_secret: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    consent_field: bool = True  # the mail-magazine plugin's mailmaga_flg is in the API's allow list
    tokens: set[str] = field(default_factory=set)
    issued: int = 0

    def put(self, order: dict[str, Any]) -> None:
        """Add the order, or replace the one with its id (an edit in EC-CUBE's admin)."""
        self.orders[str(order["id"])] = order

    def revoke(self) -> None:
        self.tokens.clear()


def oauth_error(status: int, error: str, description: str, hint: str = "") -> Response:
    body = {"error": error, "error_description": description, "message": description}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status)


def selection(query: str) -> Selection:
    """The nested field names a query selects (arguments and variables left out)."""
    tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|[{}]", re.sub(r"\([^)]*\)", " ", query))
    root: Selection = {}
    stack = [root]
    last: str | None = None
    for token in tokens:
        if token == "{":
            inner: Selection = {}
            if last is not None:
                stack[-1][last] = inner
            stack.append(inner)
        elif token == "}":
            stack.pop()
            if not stack:
                break
        else:
            stack[-1][token] = {}
        last = token if token not in "{}" else None
    return root


def _project(value: Any, wanted: Selection, type_name: str, problems: list[str], schema: set[str]) -> Any:
    if value is None or not wanted:
        return value
    if isinstance(value, list):
        return [_project(v, wanted, type_name, problems, schema) for v in value]
    out = {}
    for name, inner in wanted.items():
        if name not in value or f"{type_name}.{name}" in schema:
            problems.append(f'Cannot query field "{name}" on type "{type_name}".')
            continue
        out[name] = _project(value[name], inner, _type(name), problems, schema)
    return out


def _type(association: str) -> str:
    return {"OrderItems": "OrderItem", "Shippings": "Shipping", "Pref": "Pref", "Customer": "Customer"}.get(
        association, association)


def app(sink: Sink, shops: list[EccubeShop]) -> Starlette:
    """The local Web API of ``shops`` (told apart by their client id and tokens)."""

    async def token(request: Request) -> Response:
        seen, trouble = await sink.seen(request)
        if trouble is not None:
            return trouble
        form = {k: v[0] for k, v in parse_qs(seen.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        if not grant:
            return oauth_error(400, "invalid_request", "The request is missing a required parameter, includes an "
                               "invalid parameter value, includes a parameter more than once, or is otherwise "
                               "malformed.", 'Check the `grant_type` parameter')
        if grant != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported by the "
                               "authorization server.", "Check that all required parameters have been provided")
        given_id, given_secret = form.get("client_id", ""), form.get("client_secret", "")
        shop = next((s for s in shops if s.client_id == given_id), None)
        if shop is None or not secrets.compare_digest(given_secret.encode(), shop.client_secret.encode()):
            return oauth_error(401, "invalid_client", "Client authentication failed")
        issued = secrets.token_urlsafe(24)
        shop.tokens.add(issued)
        shop.issued += 1
        return JSONResponse({"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "access_token": issued})

    async def api(request: Request) -> Response:
        seen, trouble = await sink.seen(request)
        if trouble is not None:
            return trouble
        given = seen.headers.get("authorization", "").removeprefix("Bearer ").strip()
        shop = next((s for s in shops if given and given in s.tokens), None)
        if shop is None:
            return JSONResponse({"error": "invalid_token", "error_description": "The resource server rejected the "
                                 "request.", "message": "The resource server rejected the request."}, 401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        body = await request.json()
        query, variables = str(body.get("query") or ""), body.get("variables") or {}
        wanted = selection(query)
        hidden = set() if shop.consent_field else {"Customer.mailmaga_flg"}
        data: dict[str, Any] = {}
        problems: list[str] = []
        for root, inner in wanted.items():
            if root == "query":
                for name, fields in inner.items():
                    found = (shop.orders if name == "order" else shop.customers if name == "customer" else None)
                    if found is None:
                        problems.append(f'Cannot query field "{name}" on type "Query".')
                        continue
                    entity = found.get(str(variables.get("id")))
                    data[name] = _project(entity, fields, "Order" if name == "order" else "Customer", problems,
                                          hidden)
        if problems:  # graphql-php validates before it runs: errors, no data
            return JSONResponse({"errors": [{"message": p, "extensions": {"category": "graphql"}} for p in problems]})
        return JSONResponse({"data": data})

    return Starlette(routes=[Route("/token", token, methods=["POST"]), Route("/api", api, methods=["POST"])])

"""The error answers in the OpenAPI document: every one the server gives is named there, in its shape.

Every 4xx and 5xx the API answers is ``{"error": code, "message": ..., "details"?: [...]}``
(``web/errors.py``); FastAPI's default document describes its own ``{"detail": [...]}`` for 422,
which afterorder never sends.  ``document_errors`` rewrites a generated document so that:

* every error response's body is the ``Error`` schema;
* an ``/api/v1/`` operation names 401 (no or unknown API key: the key is checked before anything
  else);
* an operation that ``rate_limits`` counts (the API, the webhooks, the public endpoints) names 429
  with ``Retry-After``;
* every operation names 503 ``database_unavailable`` with ``Retry-After`` (the database is away;
  nothing was stored), beside any 503 the route declares itself (``secret_key``);
* every operation names 422 (a path or query parameter, or the body, out of its bounds), and one
  that takes a body 400 (the body is not JSON);
* every POST, PUT and PATCH names 413 with its body limit, also as ``x-max-body-bytes``
  (``web.body_limit`` refuses a larger body before the route reads it).

Route-specific answers (400 for a body that is not JSON, 404, 413 past the body limit) are declared
on the routes with ``responses=``; ``JSON_BODY`` and ``NOT_FOUND`` are the common ones.
"""

from __future__ import annotations

from typing import Any, Final

from afterorder.web.body_limit import BODY_METHODS, BodyLimits
from afterorder.web.rate_limits import target_of

ERROR_REF: Final = "#/components/schemas/Error"

ERROR_SCHEMA: Final[dict[str, Any]] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "a stable code: invalid_request, not_found, rate_limited, ..."},
        "message": {"type": "string", "description": "what is wrong, naming the field"},
        "details": {"type": "array", "items": {
            "type": "object",
            "required": ["field", "message"],
            "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                           "field": {"type": "string"}, "message": {"type": "string"},
                           "type": {"type": "string"}}}},
    },
}

RETRY_AFTER: Final = {"Retry-After": {"description": "whole seconds to wait before sending again",
                                      "schema": {"type": "string"}}}

Responses = dict[int | str, dict[str, Any]]

JSON_BODY: Final[Responses] = {
    400: {"description": "the body is not JSON"},
    413: {"description": "the body is over the size limit (1 MiB unless serve --max-body-bytes)"},
    422: {"description": "a field missing or out of its bounds, named in details"},
}
NOT_FOUND: Final[Responses] = {404: {"description": "no such thing in this store"}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
    if headers:
        response["headers"] = headers
    return response


def document_errors(schema: dict[str, Any], body_limits: BodyLimits) -> None:
    """Rewrite ``schema`` (a generated OpenAPI document) in place, as the module says."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if path.startswith("/api/v1/"):
                responses.setdefault("401", {"description": "wrong or missing API key"})
                headers = [(b"authorization", b"Bearer key")]
            else:
                headers = []
            if target_of(path, headers, method.upper()) is not None:
                responses.setdefault("429", {"description": "too many requests"})
                responses["429"]["headers"] = RETRY_AFTER
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "the body is not JSON"})
            responses.setdefault("422", {"description": "a parameter or field out of its bounds, named"})
            if method.upper() in BODY_METHODS:
                limit = operation["x-max-body-bytes"] = body_limits.of(path)
                responses["413"] = {"description": f"too_large: the body is over {limit} bytes, this request's limit"}
            outage = "the database cannot be reached; nothing was stored"
            if "503" in responses:  # a route's own 503 (secret_key): the outage is a 503 there too
                outage = f"{responses['503'].get('description', '')}; or database_unavailable: {outage}"
            responses["503"] = {"description": outage, "headers": RETRY_AFTER}
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    responses[status] = _error(response.get("description", ""), response.get("headers"))

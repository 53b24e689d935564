"""Errors a client sees: always JSON, always naming the problem, never a traceback."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse


def error(status: int, code: str, message: str, *, details: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_details(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[dict[str, Any]]:
    details = []
    for item in exc.errors(include_url=False, include_input=False):
        loc = prefix + tuple(p for p in item["loc"] if not _is_union_tag(p))
        details.append({"loc": list(loc), "field": dotted(loc) or "(body)", "message": item["msg"],
                        "type": item["type"]})
    return details


def _is_union_tag(part: int | str) -> bool:
    return isinstance(part, str) and part.startswith("function-")


def database_unavailable() -> JSONResponse:
    """503 while the database is away: nothing of the request was stored; send it again shortly."""
    return error(503, "database_unavailable", "the database cannot be reached just now; nothing was stored: "
                 "send the request again", headers={"Retry-After": "1"})

"""Errors a client sees: always JSON, always naming the problem, never a traceback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from afterorder.intake.limits import Detail, detail, dotted

__all__ = ["dotted", "error", "validation_details"]


def error(status: int, code: str, message: str, *, details: Sequence[Mapping[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": code, "message": ..., "details": [{"loc", "field", "message", "type"}, ...]}``."""
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = [dict(d) for d in details]
    return JSONResponse(body, status_code=status, headers=headers)


def validation_details(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Detail]:
    return [detail(prefix + tuple(p for p in item["loc"] if not _is_union_tag(p)), item["msg"], item["type"])
            for item in exc.errors(include_url=False, include_input=False)]


def _is_union_tag(part: int | str) -> bool:
    return isinstance(part, str) and part.startswith("function-")


def database_unavailable() -> JSONResponse:
    """503 while the database is away: nothing of the request was stored; send it again shortly."""
    return error(503, "database_unavailable", "the database cannot be reached just now; nothing was stored: "
                 "send the request again", headers={"Retry-After": "1"})

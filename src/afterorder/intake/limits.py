"""Limits at the door: what a request may carry before anything of it is stored.

Every way events come in (``POST /api/v1/events`` and its fast path, the platform webhooks, the
history import and ``events send``) applies these, and a request past one of them is refused whole,
naming the limit and the field (an import rejects the row, naming the row and the column): nothing
of it is stored, and nothing is accepted that a flow could not render later.  Every other JSON
endpoint reads its body with ``read_json`` too.

Size and shape of a request (``read_json``):

* the body: at most ``MAX_BODY_BYTES`` (1 MiB), else 413; ``serve --max-body-bytes`` or
  ``[limits] max_body_bytes`` in afterorder.toml sets it (64 KiB to 64 MiB), and the OpenAPI
  document states the value in force;
* JSON nesting: at most ``MAX_JSON_DEPTH`` (32) arrays / objects inside one another, else 422
  (400 for a platform webhook); a JSON integer longer than Python reads (4,300 digits) likewise.

Fields (declared on the models in ``afterorder.domain``, so the OpenAPI document shows them as
``maxItems`` / ``maxLength`` / ``minimum`` / ``maximum``):

* events in a batch ``MAX_EVENTS``; lines in an order, a checkout or a refund ``MAX_LINES``; tags
  ``MAX_TAGS``; keys of a ``properties`` object ``MAX_PROPERTIES`` (each key ``MAX_KEY_LENGTH``);
* strings: ids, names and the like ``SHORT_TEXT`` characters, titles ``TITLE_TEXT``, URLs and
  free text ``LONG_TEXT``, email addresses ``EMAIL_TEXT``;
* numbers as the database keeps them, the same bounds on SQLite and PostgreSQL: quantities
  1..``MAX_QUANTITY``; counts kept in an INTEGER column (a product's inventory, a flow step)
  within ``INT32_MIN``..``INT32_MAX``; ids (an outbox id) 1..``INT64_MAX`` (BIGINT); money is
  NUMERIC(18, 4) on PostgreSQL but a double on SQLite, which keeps 15 significant digits exactly, so
  at most ``MONEY_WHOLE_DIGITS`` (11) digits before the point and ``MONEY_PLACES`` (4) after
  (99,999,999,999.9999);
* times: a time a thing happened (``occurred_at``, a checkout's ``completed_at``) or is expected
  (a shipment's ``estimated_delivery``) on or after ``EARLIEST`` (1970-01-01T00:00:00Z); a birth
  date on or after ``EARLIEST_BIRTH_DATE``.  And, against the server's clock (``intake.horizon.ahead_problems``):
  a time that happened at most ``MAX_AHEAD`` (one day; ``Horizon``, ``RuntimeSettings.horizon``)
  ahead of now, an estimated delivery at most ``MAX_ESTIMATE_AHEAD`` (366 days), a birth date not
  after tomorrow.  Flows count days from these times and templates print them in the store's
  time zone; a year-9999 time would be stored and then fail every message about it.

This module imports nothing from afterorder at run time, so the domain models, the web layer and
the intake can all use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypedDict

from afterorder.domain import (  # the limits the models state, defined with them; named here with the rest
    EARLIEST,
    EARLIEST_BIRTH_DATE,
    EMAIL_TEXT,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    LONG_TEXT,
    MAX_AHEAD,
    MAX_ESTIMATE_AHEAD,
    MAX_EVENTS,
    MAX_KEY_LENGTH,
    MAX_LINES,
    MAX_PROPERTIES,
    MAX_QUANTITY,
    MAX_TAGS,
    MONEY_DIGITS,
    MONEY_PLACES,
    MONEY_WHOLE_DIGITS,
    SHORT_TEXT,
    TITLE_TEXT,
    too_early,
)

__all__ = [
    "EARLIEST", "EARLIEST_BIRTH_DATE", "EMAIL_TEXT", "INT32_MAX", "INT32_MIN", "INT64_MAX", "LONG_TEXT",
    "MAX_AHEAD", "MAX_BODY_BYTES", "MAX_BODY_BYTES_SETTING", "MAX_ESTIMATE_AHEAD", "MAX_EVENTS",
    "MAX_JSON_DEPTH", "MAX_KEY_LENGTH", "MAX_LINES", "MAX_PROPERTIES", "MAX_QUANTITY", "MAX_TAGS",
    "MIN_BODY_BYTES", "MONEY_DIGITS", "MONEY_PLACES", "MONEY_WHOLE_DIGITS", "SHORT_TEXT", "TITLE_TEXT",
    "Detail", "Refused", "detail", "dotted", "read_json", "too_early",
]

MAX_BODY_BYTES = 1024 * 1024
MIN_BODY_BYTES = 64 * 1024  # what ``max_body_bytes`` may be set to: a full batch of small events …
MAX_BODY_BYTES_SETTING = 64 * 1024 * 1024  # … to a bound on the memory one request may take
MAX_JSON_DEPTH = 32



class Detail(TypedDict):
    """One refused field, as the API's error body lists it (``web/errors.py``)."""

    loc: list[int | str]
    field: str
    message: str
    type: str


def dotted(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``("events", 3, "order", "lines", 0)`` as ``events[3].order.lines[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def detail(loc: tuple[int | str, ...], message: str, kind: str) -> Detail:
    return {"loc": list(loc), "field": dotted(loc) or "(body)", "message": message, "type": kind}


@dataclass(frozen=True)
class Refused(Exception):
    """A body refused before its fields are read: ``code`` for the error body, ``message`` names the limit."""

    code: str
    message: str
    cause: str = ""  # the JSON parser's own words, for an invalid body

    def __str__(self) -> str:
        return self.message


def read_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON document in ``body``; ``Refused`` when it is not JSON or is nested deeper than ``max_depth``."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused("invalid_json", f"the body is not valid JSON: {exc}", str(exc)) from None
    except RecursionError:
        raise Refused("too_deep", f"the JSON is nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise Refused("number_too_long", f"the body has a number too long to read: {exc}") from None
    if _deeper_than(data, max_depth):
        raise Refused("too_deep", f"the JSON is nested more than {max_depth} levels deep")
    return data


def _deeper_than(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        for child in children:
            if isinstance(child, dict | list):
                push((child, depth + 1))
    return False



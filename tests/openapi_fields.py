"""The API's objects as docs/api.md tabulates them, rendered from the OpenAPI document the app serves.

One row per field: its name, its type, whether it is required and its constraints, each written the
way docs/api.md writes it, so a test can compare the two cell by cell.  ``python -m tests.openapi_fields``
prints the tables' first four columns for the current code (a start for a new object's section).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from datetime import UTC, datetime
from typing import Any

# FastAPI's default 422 body, declared on routes with parameters; afterorder's own handler answers
# {"error", "message", "details"} instead (docs/api.md, "Errors"), so these two are not documented as objects.
FRAMEWORK_SCHEMAS = frozenset({"HTTPValidationError", "ValidationError"})


async def served_openapi() -> dict[str, Any]:
    """GET /api/openapi.json from the real app over a real SQLite database."""
    import httpx

    from afterorder.clock import FrozenClock
    from afterorder.web.app import create_app
    from tests.factories import running

    with tempfile.TemporaryDirectory() as folder:
        async with running(f"sqlite:///{folder}/openapi.db", FrozenClock(datetime.now(UTC))) as runtime:
            transport = httpx.ASGITransport(app=create_app(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                response = await client.get("/api/openapi.json")
                response.raise_for_status()
                document: dict[str, Any] = response.json()
                return document


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if options is None:
        return schema
    rest = [o for o in options if o.get("type") != "null"]
    if len(rest) == 1:
        return {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, "anyOf": rest}


def _ref_name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any]) -> str:
    schema = _without_null(schema)
    if "$ref" in schema:
        return f"`{_ref_name(schema)}`"
    if "anyOf" in schema:
        kinds = sorted(o.get("type", "?") for o in schema["anyOf"])
        if kinds == ["number", "string"]:
            return "decimal"
        return " or ".join(type_of(o) for o in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "string" and schema.get("format") in ("date-time", "date"):
        return f"string ({schema['format']})"
    return str(kind or "any")


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def constraints_of(schema: dict[str, Any]) -> str:
    outer = schema
    schema = _without_null(schema)
    parts: list[str] = []
    if "anyOf" in schema:  # a decimal: the bounds sit on its number form
        for option in schema["anyOf"]:
            if option.get("type") == "number":
                schema = {**schema, **{k: v for k, v in option.items() if k != "type"}}
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and high is not None:
        parts.append(f"exactly {high} characters" if low == high else f"{low}–{_number(high)} characters")
    elif high is not None:
        parts.append(f"≤ {_number(high)} characters")
    elif low is not None:
        parts.append(f"≥ {low} characters")
    if "pattern" in schema:
        parts.append(f"pattern `{schema['pattern']}`")
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    low, high = schema.get("minimum"), schema.get("maximum")
    if "exclusiveMinimum" in schema:
        parts.append(f"> {_number(schema['exclusiveMinimum'])}")
    if low is not None and high is not None:
        parts.append(f"{_number(low)}–{_number(high)}")
    elif low is not None:
        parts.append(f"≥ {_number(low)}")
    elif high is not None:
        parts.append(f"≤ {_number(high)}")
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and high is not None:
        parts.append(f"{low}–{_number(high)} items")
    elif high is not None:
        parts.append(f"≤ {_number(high)} items")
    if "maxProperties" in schema:
        parts.append(f"≤ {schema['maxProperties']} keys")
    if "propertyNames" in schema and "maxLength" in schema["propertyNames"]:
        parts.append(f"keys ≤ {schema['propertyNames']['maxLength']} characters")
    items = schema.get("items")
    if isinstance(items, dict) and "$ref" not in items:
        inner = constraints_of(items)
        if inner:
            parts.append(f"each: {inner}")
    default = outer.get("default", schema.get("default"))
    if default is not None and default != [] and default != {}:
        parts.append(f"default `{json.dumps(default, ensure_ascii=False)}`")
    return "; ".join(parts).replace("|", "\\|")


def rows_of(schema: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(field, type, required, constraints) for each property of an object schema."""
    required = set(schema.get("required", []))
    return [(f"`{name}`", type_of(prop) + (" or null" if name in required and _nullable(prop) else ""),
             "yes" if name in required else "no", constraints_of(prop))
            for name, prop in schema.get("properties", {}).items()]


def _nullable(schema: dict[str, Any]) -> bool:
    """A required field that may be null (a response's); an optional one may always be null or left out."""
    return any(option.get("type") == "null" for option in schema.get("anyOf", []))


def documented_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every schema of the document that docs/api.md must describe."""
    schemas: dict[str, dict[str, Any]] = document["components"]["schemas"]
    return {name: schema for name, schema in schemas.items() if name not in FRAMEWORK_SCHEMAS}


def main() -> None:
    document = asyncio.run(served_openapi())
    for name, schema in documented_schemas(document).items():
        print(f"\n## {name}\n")
        if "enum" in schema:
            print("| value | meaning |\n|---|---|")
            for value in schema["enum"]:
                print(f"| `{value}` | |")
            continue
        print("| field | type | required | constraints | meaning |\n|---|---|---|---|---|")
        for row in rows_of(schema):
            print("| " + " | ".join(row) + " | |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

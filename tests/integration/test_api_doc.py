"""docs/api.md against the OpenAPI document the app serves: every object of the document has a section
whose table lists exactly its fields, each with the same type, required-ness and constraints (and no
section or field the API does not have); every value of its enumerations is listed; the endpoint table
lists exactly the document's endpoints; and every example is accepted by the API: the event examples
posted to ``POST /api/v1/events`` of a real store on a real SQLite file, the other objects by the
models the API validates them with.  A body the API reads with a model the OpenAPI document does not
name (``UNNAMED_MODELS``) is held to that model's own JSON schema the same way."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from afterorder import domain
from afterorder.audit import log as audit_log
from afterorder.channels import base as channel_base
from afterorder.clock import FrozenClock
from afterorder.web import api_audit, api_channels, api_compliance, thank_you, webhooks
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import add_store, running
from tests.openapi_fields import documented_schemas as openapi_schemas
from tests.openapi_fields import rows_of, served_openapi

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
HEADING = re.compile(r"^#{2,4} .*\(`(\w+)`\)\s*$")
# The modules whose pydantic models (and enums) the OpenAPI document's schemas are made from.
MODEL_MODULES = (domain, api_channels, api_compliance, api_audit, audit_log, channel_base, webhooks, thank_you)
# Bodies read with a pydantic model by hand (``model_validate(json.loads(body))``), so absent from the document.
UNNAMED_MODELS: dict[str, type[BaseModel]] = {"ConnectionIn": webhooks.ConnectionIn}


def documented_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The document's schemas, and those of the bodies read with models the document does not name."""
    return {**openapi_schemas(document), **{name: model.model_json_schema() for name, model in UNNAMED_MODELS.items()}}


def _sections(text: str) -> dict[str, list[str]]:
    """Schema name → the lines of the section whose heading ends with (`Name`)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            found = HEADING.match(line)
            if found:
                assert found.group(1) not in sections, f"docs/api.md has two sections for {found.group(1)}"
                current = sections.setdefault(found.group(1), [])
            else:
                current = None
            continue
        if current is not None:
            current.append(line)
    return sections


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def _table(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """The section's first table: its header and its rows."""
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    assert start is not None, "no table"
    header = _cells(lines[start])
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return header, rows


def _example(lines: list[str]) -> Any:
    """The section's first ```json block, parsed."""
    text = "\n".join(lines)
    found = re.search(r"^```json\n(.*?)^```", text, re.S | re.M)
    assert found, "no ```json example"
    return json.loads(found.group(1))


def _model(name: str) -> type[BaseModel] | type[Enum]:
    for module in MODEL_MODULES:
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, BaseModel | Enum):
            return found
    raise AssertionError(f"no model called {name} in {[m.__name__ for m in MODEL_MODULES]}")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    import asyncio

    return asyncio.run(served_openapi())


@pytest.fixture(scope="module")
def sections() -> dict[str, list[str]]:
    return _sections(API_DOC.read_text(encoding="utf-8"))


def test_every_object_of_the_api_has_a_section_and_no_section_is_made_up(
        document: dict[str, Any], sections: dict[str, list[str]]) -> None:
    schemas = documented_schemas(document)
    assert sorted(set(schemas) - set(sections)) == [], "objects of the API that docs/api.md does not describe"
    assert sorted(set(sections) - set(schemas)) == [], "sections of docs/api.md for objects the API does not have"


def test_each_table_lists_the_fields_with_their_type_requiredness_and_constraints(
        document: dict[str, Any], sections: dict[str, list[str]]) -> None:
    problems: list[str] = []
    for name, schema in documented_schemas(document).items():
        if name not in sections:
            continue  # reported by the test above
        header, rows = _table(sections[name])
        if "enum" in schema:
            assert header == ["value", "meaning"], f"{name}: the table's header"
            listed = [r[0] for r in rows]
            wanted = [f"`{v}`" for v in schema["enum"]]
            if sorted(listed) != sorted(wanted):
                problems.append(f"{name}: values {listed}, the API has {wanted}")
            problems += [f"{name}.{r[0]}: no meaning" for r in rows if not r[1]]
            continue
        assert header == ["field", "type", "required", "constraints", "meaning"], f"{name}: the table's header"
        documented = {r[0]: tuple(r[:4]) for r in rows}
        expected = {r[0]: r for r in rows_of(schema)}
        for field in expected.keys() - documented.keys():
            problems.append(f"{name}.{field}: missing; the API has {expected[field]}")
        for field in documented.keys() - expected.keys():
            problems.append(f"{name}.{field}: documented, but the API has no such field")
        for field in expected.keys() & documented.keys():
            if documented[field] != expected[field]:
                problems.append(f"{name}.{field}: documented as {documented[field][1:]}, "
                                f"the API has {expected[field][1:]}")
        problems += [f"{name}.{r[0]}: no meaning" for r in rows if len(r) < 5 or not r[4]]
    assert problems == [], "docs/api.md and the OpenAPI document disagree:\n" + "\n".join(problems)


def test_every_example_of_an_object_is_valid(document: dict[str, Any], sections: dict[str, list[str]]) -> None:
    problems: list[str] = []
    for name, schema in documented_schemas(document).items():
        if name not in sections or "enum" in schema or name in ("Event", "EventBatch"):
            continue  # events are posted to the API below
        if name == "Error":  # no model: web/openapi_errors.ERROR_SCHEMA, the body web/errors.error sends
            example = _example(sections[name])
            if not set(schema["required"]) <= set(example) <= set(schema["properties"]):
                problems.append(f"Error: {example}")
            continue
        model = _model(name)
        assert issubclass(model, BaseModel)
        try:
            model.model_validate(_example(sections[name]))
        except (ValueError, AssertionError) as exc:
            problems.append(f"{name}: {exc}")
    assert problems == [], "examples in docs/api.md the API refuses:\n" + "\n".join(problems)


def test_every_enumeration_is_the_one_the_code_has(document: dict[str, Any]) -> None:
    for name, schema in documented_schemas(document).items():
        if "enum" in schema:
            model = _model(name)
            assert issubclass(model, Enum)
            assert sorted(schema["enum"]) == sorted(m.value for m in model)


async def test_the_event_examples_are_accepted_by_the_api(sqlite_url: str) -> None:
    sections = _sections(API_DOC.read_text(encoding="utf-8"))
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        _, key = await add_store(runtime)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            for name in ("Event", "EventBatch"):
                response = await client.post("/api/v1/events", json=_example(sections[name]))
                assert response.status_code == 200, f"{name}'s example: {response.text}"
                assert {a["status"] for a in response.json()["accepted"]} == {"stored"}


def test_the_endpoint_table_is_every_endpoint_of_the_api(document: dict[str, Any]) -> None:
    text = API_DOC.read_text(encoding="utf-8")
    table = re.search(r"^## Endpoints\n(.*?)(?=^## )", text, re.S | re.M)
    assert table, "docs/api.md has no '## Endpoints' section"
    _, rows = _table(table.group(1).splitlines())
    listed = sorted((r[0].strip("`"), r[1].strip("`")) for r in rows)
    served = sorted((method.upper(), path) for path, methods in document["paths"].items() for method in methods)
    assert listed == served

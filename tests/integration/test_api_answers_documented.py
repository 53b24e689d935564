"""What the API sweep (tests/e2e/test_api_sweep.py) found, each pinned: the answers a client gets are
the ones the OpenAPI document names, in the shape it names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from afterorder.clock import FrozenClock
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.factories import add_store, running


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        _, key = await add_store(runtime)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as http:
            yield http


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    answer: dict[str, Any] = (await client.get("/api/openapi.json")).json()
    return answer


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("OPTIONS", "/api/v1/segments/vip", "GET, PUT, DELETE"),
    ("POST", "/api/v1/compliance", "GET, PATCH"),
    ("GET", "/api/v1/channels/line", "PUT, DELETE"),
    ("TRACE", "/api/v1/events", "POST"),
])
async def test_a_405_names_every_method_served_at_the_path(client: httpx.AsyncClient, method: str, path: str,
                                                           allowed: str) -> None:
    answer = await client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed  # was missing, then only the first matching route's methods
    assert answer.json()["error"] == "http_error"


async def test_every_error_answer_is_documented_in_the_error_shape(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"] and "details" in error["properties"]
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's {"detail"}: never sent
    for path, method, op in operations(document):
        for status, response in op["responses"].items():
            if status[0] in "45":
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, status)


async def test_auth_rate_limits_outages_and_bodies_are_documented(document: dict[str, Any]) -> None:
    for path, method, op in operations(document):
        responses = op["responses"]
        assert "Retry-After" in responses["503"]["headers"], (method, path)
        assert "422" in responses
        if path.startswith("/api/v1/"):
            assert "401" in responses, (method, path)
        if path.startswith(("/api/v1/", "/webhooks/", "/public/")):
            assert "Retry-After" in responses["429"]["headers"], (method, path)
        if "requestBody" in op:
            assert "400" in responses, (method, path)
    paths = document["paths"]
    assert "413" in paths["/api/v1/events"]["post"]["responses"]
    assert "413" in paths["/api/v1/connections"]["post"]["responses"]
    assert "201" in paths["/api/v1/consents"]["post"]["responses"]  # a recorded change is answered 201
    for path in ("/api/v1/segments/{slug}", "/api/v1/content/{key}", "/api/v1/customers/{customer_id}/export"):
        assert "404" in paths[path]["get"]["responses"], path


async def test_bodies_read_by_hand_are_declared(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path, method in (("/api/v1/connections", "post"), ("/api/v1/segments/{slug}", "put"),
                         ("/api/v1/content/{key}", "put"), ("/api/v1/flows/{flow}/steps/{step}/send-test", "post")):
        assert paths[path][method]["requestBody"]["required"] is True, path
    connection = paths["/api/v1/connections"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert connection["required"] == ["platform"]


async def test_a_number_is_not_taken_for_a_boolean_in_the_compliance_settings(client: httpx.AsyncClient) -> None:
    refused = await client.patch("/api/v1/compliance", json={"double_opt_in": 0})
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["details"]] == ["body.double_opt_in"]
    assert (await client.get("/api/v1/compliance")).json()["double_opt_in"] is False
    assert (await client.patch("/api/v1/compliance", json={"double_opt_in": True})).json()["double_opt_in"] is True


async def test_a_number_is_not_taken_for_a_boolean_in_the_channel_settings(client: httpx.AsyncClient) -> None:
    refused = await client.patch("/api/v1/channels", json={"line_notifications": 0})
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["details"]] == ["body.line_notifications"]


async def test_closed_choices_are_listed_in_the_document(document: dict[str, Any]) -> None:
    """A client (and the sweep) can tell the accepted values from the document, not from a 422."""
    preview = {p["name"]: p["schema"] for p in
               document["paths"]["/api/v1/flows/{flow}/steps/{step}/preview"]["get"]["parameters"]}
    assert preview["format"]["enum"] == ["json", "html", "text"]
    assert preview["channel"]["enum"] == ["email", "line", "sms"]
    consent = document["components"]["schemas"]["ConsentIn"]["properties"]["purpose"]
    assert "marketing" in consent["enum"] and "topic:offers" in consent["enum"]
    order = document["components"]["schemas"]["ChannelsChange"]["properties"]["order"]["anyOf"][0]
    assert order["uniqueItems"] is True and order["items"]["enum"] == ["email", "line", "sms"]

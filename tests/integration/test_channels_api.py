"""The channels admin API over real HTTP: set a provider up, read it back masked, change the order,
remove it — every mistake named, nothing stored with it, secrets never in a response or a log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.db.schema import store_channels
from afterorder.keys.sealing import Sealer, new_key
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import US_STORE, add_store, running
from tests.loopback import loopback

PASSWORD = "pw-Zq81-very-secret"
SMTP_WITH_PASSWORD = f"smtp://shop%40kumo.example:{PASSWORD}@127.0.0.1:2525?starttls=1"


@dataclass
class Api:
    http: httpx.AsyncClient  # holding the first store's API key
    runtime: Runtime
    keys: tuple[str, str]  # the two stores' API keys


@asynccontextmanager
async def api(database_url: str, secret_key: str | None, keys: tuple[str, str] | None = None) -> AsyncIterator[Api]:
    """The app on a loopback port; two stores are made unless their ``keys`` are given (made before)."""
    async with running(database_url, FrozenClock(datetime.now(UTC)), secret_key=secret_key) as runtime:
        if keys is None:
            keys = (await add_store(runtime))[1], (await add_store(runtime, US_STORE))[1]
        async with loopback(create_app(runtime)) as url, httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {keys[0]}"}) as http:
            yield Api(http, runtime, keys)


async def rows(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(store_channels))).mappings()]


async def test_set_read_change_and_remove_with_secrets_sealed(database_url: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = new_key()
    async with api(database_url, key) as served:
        http, runtime, other_key = served.http, served.runtime, served.keys[1]
        body = {"options": {"url": SMTP_WITH_PASSWORD, "api_base": "http://127.0.0.1:9"}, "rate": 10}
        first = await http.put("/api/v1/channels/smtp", json=body)
        assert first.status_code == 201, first.text
        assert first.json()["options"] == {"api_base": "http://127.0.0.1:9", "url": "********"}
        assert (first.json()["channel"], first.json()["role"], first.json()["rate"]) == ("email", "primary", 10.0)
        replaced = await http.put("/api/v1/channels/smtp", json={**body, "rate": None})
        assert replaced.status_code == 200 and replaced.json()["rate"] is None
        backup = await http.put("/api/v1/channels/smtp", json={"options": {"url": "smtp://127.0.0.1:2526"},
                                                               "role": "backup"})
        assert backup.status_code == 201 and backup.json()["role"] == "backup"

        changed = await http.patch("/api/v1/channels", json={"order": ["line", "email"], "line_notifications": True,
                                                              "sms_help": "Kumo: help at kumo.example. STOP to end.",
                                                              "amp_email": False})
        assert changed.status_code == 200, changed.text
        got = await http.get("/api/v1/channels")
        view = got.json()
        assert [(p["role"], p["provider"], p["options"], p["problem"]) for p in view["providers"]] == [
            ("backup", "smtp", {"url": "********"}, None),
            ("primary", "smtp", {"api_base": "http://127.0.0.1:9", "url": "********"}, None)]
        assert {k: v for k, v in view.items() if k != "providers"} == {
            "order": ["line", "email"], "line_notifications": True, "line_paused_until": None,
            "sms_help": "Kumo: help at kumo.example. STOP to end.", "amp_email": False}
        assert changed.json() == view
        others = await http.get("/api/v1/channels", headers={"Authorization": f"Bearer {other_key}"})
        assert others.json()["providers"] == [] and others.json()["order"] == ["email"], "each store sees its own"
        assert others.json()["amp_email"] is True, "AMP is on unless the store turns it off"

        stored = {r["role"]: r for r in await rows(runtime)}
        assert PASSWORD not in stored["primary"]["secrets"] and stored["primary"]["settings"] == {
            "api_base": "http://127.0.0.1:9"}
        assert Sealer([key]).open(stored["primary"]["secrets"]) == {"url": SMTP_WITH_PASSWORD}

        assert (await http.delete("/api/v1/channels/email", params={"role": "backup"})).status_code == 204
        again = await http.delete("/api/v1/channels/email", params={"role": "backup"})
        assert again.status_code == 404 and again.json()["error"] == "not_set_up"
        assert [r["role"] for r in await rows(runtime)] == ["primary"]
        for answer in (first, replaced, backup, changed, got):
            assert PASSWORD not in answer.text
    assert PASSWORD not in caplog.text and key not in caplog.text


async def test_mistakes_are_named_and_nothing_is_stored(database_url: str) -> None:
    async with api(database_url, new_key()) as served:
        http, runtime = served.http, served.runtime
        put = "/api/v1/channels/smtp"
        cases: list[tuple[str, str, dict[str, Any], int, set[str]]] = [
            ("PUT", put, {"options": {"urll": SMTP_WITH_PASSWORD}}, 422, {"options.urll", "options.url"}),
            ("PUT", put, {"options": {}}, 422, {"options.url"}),
            ("PUT", put, {"options": {"url": "ftp://mail.example"}}, 422, {"options.url"}),
            ("PUT", put, {"options": {"url": "smtp://127.0.0.1:25"}, "rate": 0}, 422, {"body.rate"}),
            ("PUT", put, {"options": {"url": "smtp://127.0.0.1:25"}, "rate": 1e9}, 422, {"body.rate"}),
            ("PUT", put, {"options": {"url": "smtp://127.0.0.1:25"}, "role": "spare"}, 422, {"body.role"}),
            ("PUT", put, {"options": "smtp://127.0.0.1:25"}, 422, {"body.options"}),
            ("PUT", put, {"url": "smtp://127.0.0.1:25"}, 422, {"body.options", "body.url"}),
            ("PUT", "/api/v1/channels/fax", {"options": {"url": "smtp://127.0.0.1:25"}}, 404, {"provider"}),
            ("PATCH", "/api/v1/channels", {"order": ["line", "fax"]}, 422, {"order"}),
            ("PATCH", "/api/v1/channels", {"order": ["email", "email"]}, 422, {"order"}),
            ("PATCH", "/api/v1/channels", {"order": []}, 422, {"order"}),
            ("PATCH", "/api/v1/channels", {"sms_help": "x" * 481}, 422, {"body.sms_help"}),
            ("PATCH", "/api/v1/channels", {"amp_email": "off"}, 422, {"body.amp_email"}),
            ("PATCH", "/api/v1/channels", {"order": ["email"], "colour": "red"}, 422, {"body.colour"}),
            ("DELETE", "/api/v1/channels/fax", {}, 404, {"channel"}),
            ("DELETE", "/api/v1/channels/email?role=spare", {}, 422, {"query.role"}),
        ]
        for method, path, body, status, fields in cases:
            answer = await http.request(method, path, json=body if method != "DELETE" else None)
            assert answer.status_code == status, (method, path, body, answer.text)
            assert {d["field"] for d in answer.json()["details"]} == fields, (body, answer.json())
            assert PASSWORD not in answer.text
        unknown = await http.put("/api/v1/channels/fax", json={"options": {}})
        assert unknown.json()["error"] == "unknown_provider" and "providers: smtp" in unknown.json()["message"]
        channel_named = await http.put("/api/v1/channels/email", json={"options": {}})
        assert channel_named.status_code == 404 and "email is a channel; its providers: smtp" in channel_named.text
        assert await rows(runtime) == []
        view = (await http.get("/api/v1/channels")).json()
        assert view == {"providers": [], "order": ["email"], "line_notifications": False, "sms_help": "",
                        "line_paused_until": None, "amp_email": True}
        assert (await http.get("/api/v1/channels", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_keys_that_cannot_open_the_secrets_are_reported_never_a_500(database_url: str) -> None:
    old, new = new_key(), new_key()
    async with api(database_url, old) as served:
        assert (await served.http.put("/api/v1/channels/smtp", json={"options": {"url": SMTP_WITH_PASSWORD}})
                ).status_code == 201
        keys = served.keys
    async with api(database_url, new, keys) as served:
        [shown] = (await served.http.get("/api/v1/channels")).json()["providers"]
        assert "cannot be opened with the configured secret key" in shown["problem"]
        assert shown["options"] == {"url": "********"}
    async with api(database_url, f"{new},{old}", keys) as served:
        [shown] = (await served.http.get("/api/v1/channels")).json()["providers"]
        assert shown["problem"] is None, "after a rotation the old key, second, still opens"
    async with api(database_url, "not-a-fernet-key", keys) as served:
        broken = await served.http.get("/api/v1/channels")
        assert broken.status_code == 503 and broken.json()["error"] == "secret_key"
        assert "not a Fernet key" in broken.json()["message"] and "not-a-fernet-key" not in broken.text
        refused = await served.http.put("/api/v1/channels/smtp", json={"options": {"url": "smtp://127.0.0.1:25"}})
        assert refused.status_code == 503
        assert (await served.http.patch("/api/v1/channels", json={"sms_help": "help"})).status_code == 503
    async with api(database_url, old, keys) as served:
        [shown] = (await served.http.get("/api/v1/channels")).json()["providers"]
        assert shown["problem"] is None and (await served.http.get("/api/v1/channels")).json()["sms_help"] == ""


async def test_the_openapi_document_describes_the_channel_endpoints(sqlite_url: str) -> None:
    async with api(sqlite_url, new_key()) as served:
        document = (await served.http.get("/api/openapi.json")).json()
    paths = document["paths"]
    # one path for PUT (a provider) and DELETE (a channel): OpenAPI allows no two templates of one shape
    assert set(paths["/api/v1/channels/{name}"]) == {"put", "delete"}
    assert set(paths["/api/v1/channels"]) == {"get", "patch"}
    put = paths["/api/v1/channels/{name}"]["put"]
    assert {"200", "201", "404", "422"} <= set(put["responses"]) and "smtp" in put["description"]
    schemas = document["components"]["schemas"]
    assert {"ProviderIn", "ProviderOut", "ChannelsOut", "ChannelsChange"} <= set(schemas)
    assert schemas["ProviderIn"]["properties"]["rate"]["anyOf"][0]["exclusiveMinimum"] == 0

"""The security headers on each kind of page (the real app and database), and the session cookie."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import select

from afterorder.clock import FrozenClock
from afterorder.compliance import tokens
from afterorder.db.dashboard_users import Role, add_user
from afterorder.db.schema import customers
from afterorder.db.stores import StoreRow
from afterorder.dev.receivers import DevReceivers, start_dev_receivers
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.compliance_helpers import ingest
from tests.conftest import T0
from tests.factories import JP_STORE, add_store, order_event, running

PASSWORD = "correct horse battery"


def directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_page_headers(response: httpx.Response, referrer: str) -> None:
    assert response.headers["content-type"].startswith("text/html"), response.request.url
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == referrer
    policy = directives(response)
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == ["'self'"]
    # nothing on the page would run inline: every script is a file, no element has an event handler
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text, re.I), response.request.url
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", response.text, re.I), response.request.url


async def log_in(http: httpx.AsyncClient, username: str = "owner") -> httpx.Response:
    page = await http.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return await http.post("/login", data={"csrf": found.group(1), "username": username, "password": PASSWORD})


@pytest.fixture
async def dev() -> AsyncIterator[DevReceivers]:
    receivers = await start_dev_receivers()
    yield receivers
    await receivers.close()


async def _owner(runtime: Runtime) -> StoreRow:
    store, _ = await add_store(runtime, JP_STORE)
    async with runtime.engine.begin() as conn:
        await add_user(conn, "owner", PASSWORD, [(store.id, Role.OWNER)], T0)
    await ingest(runtime, store, order_event("order.placed", "S1", T0))
    return store


def _client(runtime: Runtime, dev: DevReceivers | None = None) -> httpx.AsyncClient:
    app = create_app(runtime, dev=dev)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")


async def test_dashboard_pages_forbid_inline_script_and_framing(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await _owner(runtime)
        async with _client(runtime) as http:
            assert_page_headers(await http.get("/login"), "same-origin")
            assert (await log_in(http)).status_code == 303
            for page in ("flows", "messages", "benchmarks", "retention", "customers", "segments", "templates",
                         "tests", "templates/order-confirmation/ja", "customers/1"):
                shown = await http.get(f"/dashboard/kumo/{page}")
                assert shown.status_code == 200, page
                assert_page_headers(shown, "same-origin")
            missing = await http.get("/dashboard/nowhere/flows")
            assert missing.status_code == 404
            assert_page_headers(missing, "same-origin")
            assert_page_headers(await http.get("/runs"), "same-origin")

            segments = (await http.get("/dashboard/kumo/segments")).text
            assert '<script src="/static/segment-count.js" defer></script>' in segments
            script = await http.get("/static/segment-count.js")
            assert script.status_code == 200 and "countUrl" in script.text
            assert script.headers["content-type"].startswith("text/javascript")
            assert script.headers["x-content-type-options"] == "nosniff"
            assert (await http.get("/static/store-switcher.js")).status_code == 200


async def test_public_pages_carry_the_policy_and_send_no_referrer(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store = await _owner(runtime)
        async with runtime.engine.connect() as conn:
            customer = int((await conn.execute(select(customers.c.id))).scalar_one())
        async with _client(runtime) as http:
            good = await http.get(f"/preferences/kumo/{tokens.preferences_token(runtime.signers.of(store), customer)}")
            assert good.status_code == 200 and "<form" in good.text
            assert_page_headers(good, "no-referrer")
            for path in ("/u/kumo/altered", "/confirm/kumo/altered", "/s/kumo/nps/altered", "/line/link/kumo/altered"):
                refused = await http.get(path)
                assert refused.status_code in (400, 404), path
                assert_page_headers(refused, "no-referrer")
            for _ in range(25):
                limited = await http.get("/u/kumo/altered")
            assert limited.status_code == 429
            assert_page_headers(limited, "no-referrer")


async def test_the_dev_inbox_carries_the_policy(sqlite_url: str, dev: DevReceivers) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime, _client(runtime, dev) as http:
        for path in ("/inbox", "/inbox/line", "/inbox/sms"):
            assert_page_headers(await http.get(path), "same-origin")


async def test_json_answers_are_nosniff_and_the_api_docs_nonce_their_one_inline_script(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        _, key = await add_store(runtime, JP_STORE)
        async with _client(runtime) as http:
            for answer in (await http.get("/api/v1/runs", headers={"Authorization": f"Bearer {key}"}),
                           await http.get("/api/v1/runs"), await http.get("/healthz"),
                           await http.post("/api/v1/events", headers={"Authorization": f"Bearer {key}"}, content=b"{")):
                assert answer.headers["content-type"].startswith("application/json")
                assert answer.headers["x-content-type-options"] == "nosniff"
            docs = await http.get("/api/docs")
            policy = directives(docs)
            nonce = re.search(r"<script nonce=\"([^\"]+)\">", docs.text)
            assert nonce and f"'nonce-{nonce.group(1)}'" in policy["script-src"]
            assert (await http.get("/api/docs")).text != docs.text  # a new nonce for every answer
            assert "'nonce-" not in (await http.get("/login")).headers["content-security-policy"]


@pytest.mark.parametrize(("base_url", "secure"), [("https://mail.example.com", True), ("http://127.0.0.1:8000", False)])
async def test_the_session_cookie_is_secure_whenever_the_public_url_is_https(sqlite_url: str, base_url: str,
                                                                                secure: bool) -> None:
    async with running(sqlite_url, FrozenClock(T0), base_url=base_url) as runtime:
        await _owner(runtime)
        async with _client(runtime) as http:  # TLS ends at a proxy in front: the request arrives as http
            login_form = await http.get("/login")
            cookies: SimpleCookie = SimpleCookie()
            for line in login_form.headers.get_list("set-cookie"):
                cookies.load(line)
            csrf = re.search(r'name="csrf" value="([^"]+)"', login_form.text)
            assert csrf
            http.cookies.clear()  # the browser sends it back over https; the proxy passes it on
            answer = await http.post("/login", data={"csrf": csrf.group(1), "username": "owner", "password": PASSWORD},
                                     headers={"Cookie": f"afterorder_login={cookies['afterorder_login'].value}"})
            assert answer.status_code == 303
        for line in answer.headers.get_list("set-cookie"):
            cookies.load(line)
        for name in ("afterorder_session", "afterorder_login"):
            assert bool(cookies[name]["secure"]) is secure, name
            assert cookies[name]["httponly"] and cookies[name]["samesite"].lower() == "lax"

"""Request size at the door (issue 21 item 2), swept over the served OpenAPI document: every operation
that takes a body (POST, PUT, PATCH) names its limit, answers a body one byte past it with 413
``too_large`` naming the limit — with a Content-Length or streamed without one, through the routes
whose body FastAPI parses itself too — and takes a body of exactly the limit past the door (a 4xx of
its own, never 413, never 5xx).  Nothing of any of them is stored, and the log holds no traceback."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from afterorder.dev.smtp_server import DevSmtpServer
from tests.e2e.processes import add_store_cli, serve

BODY_METHODS = ("post", "put", "patch")


def operations(document: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(method, path with its parameters filled in, documented limit) of every body-taking operation."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in BODY_METHODS:
                limit = operation["x-max-body-bytes"]
                assert str(limit) in operation["responses"]["413"]["description"], (method, path)
                filled = re.sub(r"\{(store|slug)\}", "kumo", path)
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "x", filled), limit))
    return found


def padded(size: int) -> bytes:
    """JSON of exactly ``size`` bytes: an empty object and spaces."""
    return b"{}" + b" " * (size - 2)


def rows(database_url: str) -> dict[str, int]:
    with sqlite3.connect(make_url(database_url).database or "") as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


async def streamed(data: bytes, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The body in pieces, without a Content-Length (chunked)."""
    for start in range(0, len(data), piece):
        yield data[start:start + piece]


def refused(answer: httpx.Response, limit: int) -> bool:
    body = answer.json()
    return answer.status_code == 413 and body["error"] == "too_large" and f"over {limit} bytes" in body["message"]


async def test_every_body_is_refused_one_byte_past_its_documented_limit(
        sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> None:
    store = add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY")
    log = tmp_path / "serve.log"
    headers = {"Authorization": f"Bearer {store['api_key']}", "Content-Type": "application/json"}
    async with serve(sqlite_url, smtp_server.url, log=log) as url, httpx.AsyncClient(timeout=60) as client:
        document = (await client.get(f"{url}/api/openapi.json")).json()
        swept = operations(document)
        assert len(swept) >= 15, swept
        assert {limit for _, path, limit in swept if path.startswith("/api/v1/events")} == {1024 * 1024}
        assert {limit for _, path, limit in swept if "back-in-stock" in path} == {4096}
        before = rows(sqlite_url)
        for method, path, limit in swept:
            over = await client.request(method, f"{url}{path}", content=padded(limit + 1), headers=headers)
            assert refused(over, limit), (method, path, over.status_code, over.text)
        assert rows(sqlite_url) == before, "nothing of a refused request is stored"
        for method, path, limit in swept:  # an empty PATCH at the limit is a valid change: it may be stored
            at = await client.request(method, f"{url}{path}", content=padded(limit), headers=headers)
            assert at.status_code != 413 and at.status_code < 500, (method, path, at.status_code, at.text)
    assert "Traceback" not in log.read_text()


async def test_a_streamed_body_without_a_length_is_counted_and_refused(
        sqlite_url: str, smtp_server: DevSmtpServer) -> None:
    """In process: chunked bodies (no Content-Length) over every operation's limit, then one at the limit."""
    from afterorder.clock import SystemClock
    from afterorder.web.app import create_app
    from tests.factories import add_store, running

    async with running(sqlite_url, SystemClock(), smtp_url=smtp_server.url) as runtime:
        _, key = await add_store(runtime)
        app = create_app(runtime)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            swept = operations((await client.get("/api/openapi.json")).json())
            before = rows(sqlite_url)
            for method, path, limit in swept:
                request = client.build_request(method, path, content=streamed(padded(limit + 1)), headers=headers)
                assert "content-length" not in request.headers
                over = await client.send(request)
                assert refused(over, limit), (method, path, over.status_code, over.text)
            events = next(limit for _, path, limit in swept if path == "/api/v1/events")
            whole = await client.post("/api/v1/events", content=streamed(padded(events)), headers=headers)
            assert whole.status_code == 422, "at the limit the body reaches the route whole"
            assert rows(sqlite_url) == before

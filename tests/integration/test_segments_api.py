"""Segments through the admin API and the CLI, as a store's developer and an operator use them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from afterorder.clock import FrozenClock
from afterorder.domain import Event
from afterorder.web.app import create_app
from tests.factories import running
from tests.segment_data import NOW, segment_store


async def test_define_count_list_and_ask_over_http(database_url: str) -> None:
    async with running(database_url, FrozenClock(NOW)) as runtime:
        store = await segment_store(runtime)
        key = segment_store.api_key  # type: ignore[attr-defined]
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            tea = {"name": "Tea lovers in Japan", "condition": {"all": [
                {"field": "customer.country", "value": "JP"}, {"bought": {"category": "tea"}}]}}
            made = await client.put("/api/v1/segments/jp-tea", json=tea)
            assert made.status_code == 200 and made.json() == {"slug": "jp-tea", "name": "Tea lovers in Japan",
                                                                "count": 2}
            listed = (await client.get("/api/v1/segments")).json()["segments"]
            assert [(s["slug"], s["count"]) for s in listed] == [("jp-tea", 2)]
            members = (await client.get("/api/v1/segments/jp-tea/members", params={"limit": 1})).json()
            assert [m["id"] for m in members["members"]] == ["aiko"]
            assert (await client.get("/api/v1/segments/jp-tea/members/dai")).json()["member"] is True
            assert (await client.get("/api/v1/segments/jp-tea/members/ben")).json()["member"] is False

            # Membership is current the moment an event is stored: emi buys tea, and is in.
            emi = {"id": "placed:E2", "type": "order.placed", "occurred_at": NOW.isoformat(),
                   "customer": {"id": "emi"}, "order": {"id": "E2", "total": 1200, "lines": [
                       {"title": "煎茶", "price": 1200, "category": "tea"}]}}
            await runtime.intake.ingest(store, [Event.model_validate(emi)])
            assert (await client.get("/api/v1/segments/jp-tea")).json()["count"] == 3

            bad = await client.put("/api/v1/segments/oops", json={"condition": {"field": "stats.spent", "value": 1}})
            assert bad.status_code == 422 and "'stats.spent' is not a stats field" in bad.json()["message"]
            assert (await client.put("/api/v1/segments/oops", content=b"{nope")).status_code == 400
            assert (await client.get("/api/v1/segments/nowhere")).status_code == 404
            assert (await client.get("/api/v1/segments/jp-tea/members/nobody")).status_code == 404
            assert (await client.delete("/api/v1/segments/jp-tea")).status_code == 200
            assert (await client.get("/api/v1/segments")).json()["segments"] == []


def test_segment_commands(sqlite_url: str, tmp_path: Path) -> None:
    import asyncio

    from tests.e2e.processes import cli

    async def prepare() -> None:
        async with running(sqlite_url, FrozenClock(NOW)) as runtime:
            await segment_store(runtime)

    asyncio.run(prepare())
    definition = tmp_path / "repeat.yaml"
    definition.write_text("name: リピーター\ncondition:\n  field: stats.is_repeat\n  value: true\n", encoding="utf-8")
    assert "segment repeat: 1 customers now" in cli("segment", "define", "repeat", "--store", "kumo", "--file",
                                                    str(definition), database=sqlite_url).stdout
    assert cli("segment", "count", "repeat", "--store", "kumo", database=sqlite_url).stdout.strip() == "1"
    members = json.loads(cli("segment", "members", "repeat", "--store", "kumo", "--json", database=sqlite_url).stdout)
    assert [(m["id"], m["email"], m["order_count"]) for m in members] == [("aiko", "aiko@example.jp", 2)]
    exported = tmp_path / "repeat.csv"
    cli("segment", "export", "repeat", "--store", "kumo", "--output", str(exported), database=sqlite_url)
    assert exported.read_text(encoding="utf-8").splitlines()[1].startswith("aiko,aiko@example.jp,愛子,佐藤,JP")
    listed = json.loads(cli("segment", "list", "--store", "kumo", "--json", database=sqlite_url).stdout)
    assert listed == [{"slug": "repeat", "name": "リピーター", "count": 1,
                       "condition": {"field": "stats.is_repeat", "value": True}}]

    broken = tmp_path / "broken.yaml"
    broken.write_text("condition: {field: stats.is_repeat, op: approx, value: true}\n")
    failed = cli("segment", "define", "x", "--store", "kumo", "--file", str(broken), database=sqlite_url, check=False)
    assert failed.returncode == 1 and "condition.op: unknown operator 'approx'" in failed.stderr
    missing = cli("segment", "count", "nope", "--store", "kumo", database=sqlite_url, check=False)
    assert missing.returncode == 1 and "no segment 'nope'" in missing.stderr

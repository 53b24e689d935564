"""Driving a real ``afterorder serve --dev-clock`` through weeks of a store's life, for the flow library tests."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from afterorder.db.database import open_engine
from afterorder.db.stores import get_store
from afterorder.dev.inbox import ReceivedMail
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.flows.catalog import FlowCatalog
from tests.e2e.processes import cli

TOKYO = ZoneInfo("Asia/Tokyo")


def ten_am_weekday(after: datetime, zone: ZoneInfo = TOKYO) -> datetime:
    """The first 10:00 (local) on a Monday–Friday strictly after ``after``."""
    day = after.astimezone(zone).date()
    while True:
        candidate = datetime(day.year, day.month, day.day, 10, 0, tzinfo=zone)
        if candidate > after and candidate.weekday() < 5:
            return candidate
        day += timedelta(days=1)


def set_content(database: str, store: str, key: str, data: Any, tmp: Path) -> None:
    path = tmp / f"{store}-{key}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cli("content", "set", key, "--store", store, "--file", str(path), database=database)


async def enable_flows(database: str, slug: str, flows: tuple[str, ...]) -> None:
    """What ``afterorder flows enable FLOW --store SLUG`` does (tested with the CLI elsewhere), without
    starting a process per flow."""
    engine = open_engine(database)
    try:
        async with engine.begin() as conn:
            store = await get_store(conn, slug)
            assert store is not None
            catalog = FlowCatalog.load([])
            for flow in flows:
                await catalog.set_enabled(conn, store, flow, True, datetime.now(ZoneInfo("UTC")))
    finally:
        await engine.dispose()


@dataclass
class Store:
    client: httpx.AsyncClient
    url: str
    key: str
    smtp: DevSmtpServer
    now: datetime
    seen: set[int] = field(default_factory=set)

    async def post(self, event: dict[str, Any]) -> None:
        response = await self.client.post(f"{self.url}/api/v1/events", json=event,
                                          headers={"Authorization": f"Bearer {self.key}"})
        assert response.status_code == 200, response.text

    async def advance_to(self, moment: datetime) -> None:
        seconds = (moment - self.now).total_seconds()
        assert seconds > 0, f"the clock is already at {self.now}, past {moment}"
        response = await self.client.post(f"{self.url}/dev/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        self.now = datetime.fromisoformat(response.json()["now"])

    def mails(self, address: str, subject: str = "") -> list[ReceivedMail]:
        return [m for m in self.smtp.inbox.all() if address in m.recipients and subject in m.subject]

    async def expect(self, address: str, subject: str, count: int = 1, timeout: float = 5.0) -> ReceivedMail:
        """Wait for the ``count``-th mail to ``address`` whose subject holds ``subject``; return the newest."""
        for _ in range(int(timeout / 0.05)):
            found = self.mails(address, subject)
            if len(found) >= count:
                assert len(found) == count, f"{len(found)} mails '{subject}' to {address}, expected {count}"
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no mail '{subject}' #{count} to {address}; got: "
                             f"{[m.subject for m in self.mails(address)]}")

    async def settle(self, seconds: float = 0.8) -> None:
        """Let the scheduler and delivery catch up before asserting that nothing was sent."""
        await asyncio.sleep(seconds)

    async def put(self, path: str, body: Any) -> dict[str, Any]:
        response = await self.client.put(f"{self.url}/api/v1/{path}", json=body,
                                         headers={"Authorization": f"Bearer {self.key}"})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def runs(self, flow: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"{self.url}/api/v1/runs", params={"flow": flow},
                                         headers={"Authorization": f"Bearer {self.key}"})
        assert response.status_code == 200, response.text
        runs: list[dict[str, Any]] = response.json()["runs"]
        return runs

    async def follow(self, link: str) -> httpx.Response:
        """Open a link from a mail as a browser would (through the click redirect)."""
        return await self.client.get(link, follow_redirects=True)


def links(mail: ReceivedMail) -> list[str]:
    return re.findall(r'href="(http://127\.0\.0\.1:\d+/[^"]+)"', mail.html or "")


async def target_of(store: Store, link: str) -> str:
    response = await store.client.get(link, follow_redirects=False)
    return response.headers.get("location", link)

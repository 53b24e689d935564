"""The audit log as an owner and an integration see it: every kind of change made on the dashboard,
through the API or with the command line is listed — who, when, what and from where — on the
dashboard's audit page and by ``GET /api/v1/audit``; a store never sees another's; an erasure
stays listed and holds nothing of the customer."""

from __future__ import annotations

import asyncio
import getpass
import html as html_lib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from afterorder.cli.main import build_app
from afterorder.clock import FrozenClock
from afterorder.db.dashboard_users import Role, add_user
from afterorder.db.schema import audit_log, customers
from afterorder.db.stores import StoreRow
from afterorder.dev.smtp_server import DevSmtpServer
from afterorder.keys.sealing import new_key
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from afterorder.web.rate_limits import RateLimitSettings
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running

PASSWORD = "correct horse battery"
SMTP_PASSWORD = "pw-Zq81-very-secret"
USER_ADDRESS, USER_AGENT = "198.51.100.7", "Mozilla/5.0 (audit test browser)"
KEY_ADDRESS, KEY_AGENT = "203.0.113.9", "shop-sync/2.1"
CLI_USER = f"cli:{getpass.getuser()}"


@dataclass
class Shop:
    runtime: Runtime
    kumo: StoreRow
    harbor: StoreRow
    key: str  # kumo's API key
    harbor_key: str
    owner: httpx.AsyncClient  # logged in as kumo's owner, from USER_ADDRESS
    api: httpx.AsyncClient  # with kumo's key, from KEY_ADDRESS
    database_url: str
    secret_key: str
    tmp: Path
    csrf: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    async def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        return await self.owner.post(path, data={"csrf": self.csrf, **form})

    async def cli(self, *args: str) -> None:
        def invoke() -> Any:
            return CliRunner().invoke(build_app(), list(args), env={
                "AFTERORDER_DATABASE_URL": self.database_url, "AFTERORDER_SECRET_KEY": self.secret_key,
                "AFTERORDER_CONFIG": None})
        result = await asyncio.to_thread(invoke)
        assert result.exit_code == 0, f"afterorder {' '.join(args)}: {result.stderr}{result.exception}"


def _client(runtime: Runtime, address: str, agent: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=(address, 50123))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000",
                             headers={"User-Agent": agent, **headers})


def _token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no form token on the page"
    return found.group(1)


async def _log_in(http: httpx.AsyncClient, username: str) -> str:
    page = await http.get("/login")
    answer = await http.post("/login", data={"csrf": _token(page.text), "username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return _token((await http.get("/dashboard/kumo/flows")).text) if username != "harbor-owner" else _token(
        (await http.get("/dashboard/harbor/flows")).text)


@asynccontextmanager
async def shop(database_url: str, tmp: Path, smtp_url: str | None = None) -> AsyncIterator[Shop]:
    secret_key = new_key()
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    async with running(database_url, clock, smtp_url=smtp_url, secret_key=secret_key) as runtime:
        kumo, key = await add_store(runtime, JP_STORE)
        harbor, harbor_key = await add_store(runtime, US_STORE)
        async with runtime.engine.begin() as conn:
            await add_user(conn, "owner", PASSWORD, [(kumo.id, Role.OWNER)], clock.now())
            await add_user(conn, "editor", PASSWORD, [(kumo.id, Role.EDITOR)], clock.now())
            await add_user(conn, "harbor-owner", PASSWORD, [(harbor.id, Role.OWNER)], clock.now())
        async with _client(runtime, USER_ADDRESS, USER_AGENT) as owner, _client(
                runtime, KEY_ADDRESS, KEY_AGENT, Authorization=f"Bearer {key}") as api:
            found = Shop(runtime, kumo, harbor, key, harbor_key, owner, api, database_url, secret_key, tmp)
            found.csrf = await _log_in(owner, "owner")
            yield found


async def _customer(shop: Shop, customer: str = "cust-A1", email: str = "Sayaka.Private@example.jp") -> int:
    event = order_event("order.placed", "A1", shop.runtime.clock.now(), email=email)
    event["customer"].update(id=customer, first_name="紗耶香", last_name="秘密")
    assert (await shop.api.post("/api/v1/events", json=event)).status_code == 200
    async with shop.runtime.engine.connect() as conn:
        return int((await conn.execute(select(customers.c.id).where(
            customers.c.store_id == shop.kumo.id, customers.c.external_id == customer))).scalar_one())


def _ok(answer: httpx.Response, *codes: int) -> None:
    assert answer.status_code in (codes or (200, 201, 204, 303)), answer.text


# ---- each kind of change: how a user makes it, and the entry it must leave ---------------------------------

Act = Callable[[Shop], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    action: str
    target: str
    details: dict[str, Any]  # these at least (the entry may say more)
    via: str  # user | api_key | cli
    act: Act


async def flow_off(s: Shop) -> None:
    _ok(await s.post("/dashboard/kumo/flows/order-confirmation", {"enabled": "off"}))


async def flow_on(s: Shop) -> None:
    _ok(await s.post("/dashboard/kumo/flows/order-confirmation", {"enabled": "off"}))
    _ok(await s.post("/dashboard/kumo/flows/order-confirmation", {"enabled": "on"}))


async def industry(s: Shop) -> None:
    _ok(await s.post("/dashboard/kumo/settings/industry", {"industry": "jewelry"}))


async def segment_form(s: Shop) -> None:
    _ok(await s.post("/dashboard/kumo/segments", {"slug": "repeat", "name": "Repeat buyers",
                                                  "definition": "{field: stats.order_count, op: '>=', value: 2}"}))


async def template_save(s: Shop) -> None:
    _ok(await s.post("/dashboard/kumo/templates/order-confirmation/ja",
                     {"action": "save", "source": "{% block subject %}ご注文ありがとう{% endblock %}"}), 200)


async def template_reset(s: Shop) -> None:
    await template_save(s)
    _ok(await s.post("/dashboard/kumo/templates/order-confirmation/ja", {"action": "reset"}))


async def template_test(s: Shop) -> None:
    _ok(await s.post("/dashboard/kumo/templates/order-confirmation/ja/test", {"to": "me@kumo.example"}), 200)


AB_FORM = {"step": "order-confirmation:0", "split": "30", "metric": "open", "confidence": "0.95",
           "min_sample": "100", "subject_ja": "B {{ order.number }}"}


async def ab_start(s: Shop) -> None:
    _ok(await s.post("/dashboard/kumo/tests", AB_FORM))


async def ab_stop(s: Shop) -> None:
    await ab_start(s)
    _ok(await s.post("/dashboard/kumo/tests/1/stop", {}))


async def content_api(s: Shop) -> None:
    _ok(await s.api.put("/api/v1/content/ugc", json={"platform": "Instagram", "hashtag": "#kumotea"}))


async def segment_api(s: Shop) -> None:
    _ok(await s.api.put("/api/v1/segments/vip", json={"name": "VIP", "condition": {
        "field": "stats.order_count", "op": ">=", "value": 5}}))


async def segment_api_remove(s: Shop) -> None:
    await segment_api(s)
    _ok(await s.api.delete("/api/v1/segments/vip"))


SMTP_URL = f"smtp://shop%40kumo.example:{SMTP_PASSWORD}@127.0.0.1:2525?starttls=1"


async def channel_api(s: Shop) -> None:
    _ok(await s.api.put("/api/v1/channels/smtp", json={"options": {"url": SMTP_URL}, "rate": 10}))


async def channel_api_remove(s: Shop) -> None:
    await channel_api(s)
    _ok(await s.api.delete("/api/v1/channels/email"))


async def channels_api_change(s: Shop) -> None:
    _ok(await s.api.patch("/api/v1/channels", json={"order": ["line", "email"], "line_notifications": True}))


async def compliance_api(s: Shop) -> None:
    _ok(await s.api.patch("/api/v1/compliance", json={"quiet_hours": "22:30-07:15"}))


async def export_api(s: Shop) -> None:
    s.notes["customer"] = await _customer(s)
    _ok(await s.api.get("/api/v1/customers/cust-A1/export"))


async def erase_api(s: Shop) -> None:
    s.notes["customer"] = await _customer(s)
    _ok(await s.api.post("/api/v1/customers/cust-A1/erase"))


async def connect_api(s: Shop) -> None:
    _ok(await s.api.post("/api/v1/connections", json={"platform": "shopify", "secret": "shpss_top-secret-value"}))


async def step_test_api(s: Shop) -> None:
    _ok(await s.api.post("/api/v1/flows/order-confirmation/steps/1/send-test",
                         json={"to": "me@kumo.example", "locale": "ja"}))


async def user_cli(s: Shop) -> None:
    def password_in() -> Any:
        return CliRunner().invoke(build_app(), ["user", "add", "clerk", "--store", "kumo", "--role", "editor",
                                            "--password-stdin"], input="clerk-password-1\n",
                                  env={"AFTERORDER_DATABASE_URL": s.database_url, "AFTERORDER_CONFIG": None})
    result = await asyncio.to_thread(password_in)
    assert result.exit_code == 0, f"{result.stderr}{result.exception}"


async def connect_cli(s: Shop) -> None:
    await s.cli("store", "connect", "kumo", "shopify", "--secret", "shpss_top-secret-value")


async def industry_cli(s: Shop) -> None:
    await s.cli("store", "set-industry", "kumo", "jewelry")


async def compliance_cli(s: Shop) -> None:
    await s.cli("store", "set", "kumo", "--quiet-hours", "22:30-07:15")


async def channel_cli(s: Shop) -> None:
    await s.cli("channels", "set", "kumo", "smtp", "--url", SMTP_URL)


async def channel_cli_remove(s: Shop) -> None:
    await channel_cli(s)
    await s.cli("channels", "remove", "kumo", "email")


async def content_cli(s: Shop) -> None:
    document = s.tmp / "ugc.json"
    document.write_text(json.dumps({"platform": "Instagram", "hashtag": "#kumotea"}))
    await s.cli("content", "set", "ugc", "--store", "kumo", "--file", str(document))


async def segment_cli(s: Shop) -> None:
    document = s.tmp / "big.json"
    document.write_text(json.dumps({"name": "Big spenders", "condition": {
        "field": "stats.total_spent", "op": ">=", "value": 50000}}))
    await s.cli("segment", "define", "big", "--store", "kumo", "--file", str(document))


async def segment_export_cli(s: Shop) -> None:
    await _customer(s)
    await s.cli("segment", "define", "buyers", "--store", "kumo", "--file", str(_condition(s.tmp)))
    await s.cli("segment", "export", "buyers", "--store", "kumo", "--output", str(s.tmp / "buyers.csv"))
    assert "sayaka.private@example.jp" in (s.tmp / "buyers.csv").read_text().lower()


def _condition(tmp: Path) -> Path:
    document = tmp / "buyers.json"
    document.write_text(json.dumps({"field": "stats.order_count", "op": ">=", "value": 1}))
    return document


async def erase_cli(s: Shop) -> None:
    s.notes["customer"] = await _customer(s)
    await s.cli("customer", "erase", "cust-A1", "--store", "kumo", "--yes")


async def export_cli(s: Shop) -> None:
    s.notes["customer"] = await _customer(s)
    await s.cli("customer", "export", "cust-A1", "--store", "kumo")


async def esp_cli(s: Shop) -> None:
    await s.cli("store", "esp", "kumo", "postmark", "--username", "hooks", "--password", "pm-hook-secret-991")


async def tracking_cli(s: Shop) -> None:
    await s.cli("store", "tracking", "kumo", "--attribution-days", "3")


async def dkim_cli(s: Shop) -> None:
    await s.cli("store", "dkim", "kumo", "--selector", "ao2026", "--domain", "kumo.example")


async def suppress_cli(s: Shop) -> None:
    await s.cli("suppression", "add", "someone.private@example.org", "--store", "kumo")


async def lift_cli(s: Shop) -> None:
    await suppress_cli(s)
    await s.cli("suppression", "remove", "someone.private@example.org", "--store", "kumo")


async def coupons_cli(s: Shop) -> None:
    codes = s.tmp / "codes.txt"
    codes.write_text("KUMO-SECRET-CODE-1\nKUMO-SECRET-CODE-2\n")
    await s.cli("coupon", "import", "thanks10", str(codes), "--store", "kumo", "--percent", "10")


KINDS: dict[str, Kind] = {
    "dashboard-flow-off": Kind("flow.disabled", "order-confirmation", {}, "user", flow_off),
    "dashboard-flow-on": Kind("flow.enabled", "order-confirmation", {}, "user", flow_on),
    "dashboard-industry": Kind("setting.changed", "industry", {"from": None, "to": "jewelry"}, "user", industry),
    "dashboard-segment": Kind("segment.saved", "repeat", {"name": "Repeat buyers"}, "user", segment_form),
    "dashboard-template-save": Kind("template.saved", "order-confirmation/ja", {"channel": "email"}, "user",
                                    template_save),
    "dashboard-template-reset": Kind("template.reset", "order-confirmation/ja", {"channel": "email"}, "user",
                                     template_reset),
    "dashboard-template-test": Kind("template.test_sent", "order-confirmation/ja", {}, "user", template_test),
    "dashboard-ab-start": Kind("ab_test.started", "1", {"flow": "order-confirmation", "step": 1, "split": 30,
                                                        "metric": "open"}, "user", ab_start),
    "dashboard-ab-stop": Kind("ab_test.stopped", "1", {}, "user", ab_stop),
    "api-content": Kind("content.set", "ugc", {}, "api_key", content_api),
    "api-segment": Kind("segment.saved", "vip", {"name": "VIP"}, "api_key", segment_api),
    "api-segment-remove": Kind("segment.removed", "vip", {}, "api_key", segment_api_remove),
    "api-channel-set": Kind("channel.set", "email", {"provider": "smtp", "role": "primary", "rate": 10.0,
                                                     "options": "url"}, "api_key", channel_api),
    "api-channel-remove": Kind("channel.removed", "email", {"role": "primary"}, "api_key", channel_api_remove),
    "api-channels-change": Kind("channels.changed", "channels", {"order": "line, email", "line_notifications": True},
                                "api_key", channels_api_change),
    "api-compliance": Kind("setting.changed", "compliance.quiet_hours", {"to": "22:30-07:15"}, "api_key",
                           compliance_api),
    "api-export": Kind("customer.exported", "#{customer}", {"customer": "{customer}"}, "api_key",
                       export_api),
    "api-erase": Kind("customer.erased", "#{customer}", {"customer": "{customer}"}, "api_key", erase_api),
    "api-step-test": Kind("step.test_sent", "order-confirmation/1", {"locale": "ja"}, "api_key", step_test_api),
    "api-connect": Kind("platform.connected", "shopify", {"secret_rotated": False}, "api_key", connect_api),
    "cli-user": Kind("user.set", "clerk", {"role": "editor"}, "cli", user_cli),
    "cli-connect": Kind("platform.connected", "shopify", {"secret_rotated": False}, "cli", connect_cli),
    "cli-industry": Kind("setting.changed", "industry", {"from": None, "to": "jewelry"}, "cli", industry_cli),
    "cli-compliance": Kind("setting.changed", "compliance.quiet_hours", {"to": "22:30-07:15"}, "cli",
                           compliance_cli),
    "cli-channel-set": Kind("channel.set", "email", {"provider": "smtp", "options": "url"}, "cli", channel_cli),
    "cli-channel-remove": Kind("channel.removed", "email", {"role": "primary"}, "cli", channel_cli_remove),
    "cli-content": Kind("content.set", "ugc", {}, "cli", content_cli),
    "cli-segment": Kind("segment.saved", "big", {"name": "Big spenders"}, "cli", segment_cli),
    "cli-esp": Kind("esp.credentials_set", "postmark", {"options": "password, username"}, "cli", esp_cli),
    "cli-tracking": Kind("setting.changed", "tracking.attribution_days", {"to": 3}, "cli", tracking_cli),
    "cli-dkim": Kind("setting.changed", "compliance.dkim", {
        "from": None, "to": '{"domain":"kumo.example","selector":"ao2026"}'}, "cli", dkim_cli),
    "cli-suppress": Kind("suppression.added", "manual", {}, "cli", suppress_cli),
    "cli-lift": Kind("suppression.lifted", "all", {"count": 1}, "cli", lift_cli),
    "cli-coupons": Kind("coupons.imported", "thanks10", {"added": 2, "percent": 10}, "cli", coupons_cli),
    "cli-segment-export": Kind("segment.exported", "buyers", {"count": 1}, "cli", segment_export_cli),
    "cli-erase": Kind("customer.erased", "#{customer}", {"customer": "{customer}"}, "cli", erase_cli),
    "cli-export": Kind("customer.exported", "#{customer}", {"customer": "{customer}"}, "cli", export_cli),
}
WHO = {"user": ("owner", USER_ADDRESS, USER_AGENT), "api_key": ("key {prefix}…", KEY_ADDRESS, KEY_AGENT),
       "cli": (CLI_USER, "local", None)}


def _filled(value: Any, notes: dict[str, Any]) -> Any:
    if value == "{customer}":
        return notes["customer"]
    return value.format(**notes) if isinstance(value, str) else value


def _rows(page: str, action: str) -> list[str]:
    return re.findall(rf'<tr data-entry="\d+" data-action="{re.escape(action)}">(.*?)</tr>', page, re.S)


def _cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="{name}">(.*?)</td>', row, re.S)
    assert found, f"no {name} cell"
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()


@pytest.mark.parametrize("kind", KINDS, ids=list(KINDS))
async def test_each_kind_of_change_is_listed_with_who_when_what_and_where(
        database_url: str, smtp_server: DevSmtpServer, tmp_path: Path, kind: str) -> None:
    expected = KINDS[kind]
    async with shop(database_url, tmp_path, smtp_server.url) as s:
        started = datetime.now(UTC)
        await expected.act(s)
        finished = datetime.now(UTC)
        label, address, agent = WHO[expected.via]
        label = label.format(prefix=s.kumo.api_key_prefix)
        target = _filled(expected.target, s.notes)
        details = {k: s.notes["customer"] if v == "{customer}" else v for k, v in expected.details.items()}

        listed = await s.api.get("/api/v1/audit", params={"action": expected.action})
        assert listed.status_code == 200, listed.text
        entry = listed.json()["entries"][0]
        assert (entry["actor"]["kind"], entry["actor"]["label"]) == (expected.via, label)
        assert entry["action"] == expected.action and entry["target"] == target
        assert {k: entry["details"].get(k) for k in details} == details
        assert entry["origin"] == {"address": address, "user_agent": agent}
        at = datetime.fromisoformat(entry["at"])
        if expected.via == "cli":  # the command line writes with the system clock
            assert started.replace(microsecond=0) <= at <= finished
        else:
            assert at == s.runtime.clock.now()
        if expected.via == "user":
            assert entry["actor"]["user_id"] is not None

        page = await s.owner.get("/dashboard/kumo/audit", params={"action": expected.action})
        assert page.status_code == 200
        rows = _rows(page.text, expected.action)
        assert rows, f"no {expected.action} row on the audit page"
        assert _cell(rows[0], "who").startswith(label)
        assert _cell(rows[0], "target") == target
        assert _cell(rows[0], "where").startswith(address)
        assert f'datetime="{at.isoformat()}"' in rows[0]
        for value in details.values():
            if value is not None and not isinstance(value, bool):
                assert str(value) in _cell(rows[0], "details")

        async with s.runtime.engine.connect() as conn:  # no secret reached the log
            stored = json.dumps([dict(r) for r in (await conn.execute(select(audit_log))).mappings()],
                                default=str, ensure_ascii=False)
        for secret in (SMTP_PASSWORD, "shpss_top-secret-value", s.key, s.secret_key, "clerk-password-1",
                       "pm-hook-secret-991", "someone.private", "PRIVATE KEY", "KUMO-SECRET-CODE"):
            assert secret not in stored


async def test_a_store_sees_only_its_own_entries_and_only_its_owners_see_them(database_url: str,
                                                                              tmp_path: Path) -> None:
    async with shop(database_url, tmp_path) as s:
        await flow_off(s)
        await segment_api(s)
        async with _client(s.runtime, "192.0.2.50", USER_AGENT) as harbor_owner, _client(
                s.runtime, KEY_ADDRESS, KEY_AGENT, Authorization=f"Bearer {s.harbor_key}") as harbor_api, _client(
                s.runtime, "192.0.2.60", USER_AGENT) as editor:
            harbor_csrf = await _log_in(harbor_owner, "harbor-owner")
            _ok(await harbor_owner.post("/dashboard/harbor/settings/industry",
                                        data={"csrf": harbor_csrf, "industry": "electronics"}))
            # harbor's owner: kumo's log does not exist for them; harbor's holds only harbor's change
            assert (await harbor_owner.get("/dashboard/kumo/audit")).status_code == 404
            theirs = (await harbor_owner.get("/dashboard/harbor/audit")).text
            assert _rows(theirs, "setting.changed") and not _rows(theirs, "flow.disabled")
            assert not _rows(theirs, "segment.saved") and "order-confirmation" not in theirs
            listed = (await harbor_api.get("/api/v1/audit")).json()
            assert [(e["action"], e["target"]) for e in listed["entries"]] == [("setting.changed", "industry")]
            assert listed["total"] == 1
            ours = (await s.api.get("/api/v1/audit")).json()
            assert [(e["action"], e["target"]) for e in ours["entries"]] == [
                ("segment.saved", "vip"), ("flow.disabled", "order-confirmation")]
            # an editor of kumo changes flows but does not see the log, nor a link to it
            await _log_in(editor, "editor")
            flows = await editor.get("/dashboard/kumo/flows")
            assert "/dashboard/kumo/audit" not in flows.text
            assert (await editor.get("/dashboard/kumo/audit")).status_code == 403
            assert "/dashboard/kumo/audit" in (await s.owner.get("/dashboard/kumo/flows")).text


async def test_an_erasure_stays_in_the_log_with_nothing_of_the_customer(database_url: str, tmp_path: Path) -> None:
    async with shop(database_url, tmp_path) as s:
        internal = await _customer(s, "sayaka-7@example.jp", "Sayaka.Private@example.jp")
        _ok(await s.api.get("/api/v1/customers/sayaka-7@example.jp/export"))
        _ok(await s.api.post("/api/v1/customers/sayaka-7@example.jp/erase"))
        listed = (await s.api.get("/api/v1/audit")).json()["entries"]
        assert [(e["action"], e["target"], e["details"]) for e in listed] == [
            ("customer.erased", f"#{internal}", {"customer": internal}),
            ("customer.exported", f"#{internal}", {"customer": internal})]
        page = (await s.owner.get("/dashboard/kumo/audit")).text
        assert _cell(_rows(page, "customer.erased")[0], "target") == f"#{internal}"
        async with s.runtime.engine.connect() as conn:
            stored = json.dumps([dict(r) for r in (await conn.execute(select(audit_log))).mappings()],
                                default=str, ensure_ascii=False).lower()
        for personal in ("sayaka-7@example.jp", "sayaka.private@example.jp", "紗耶香", "秘密", "sayaka"):
            assert personal not in stored
        assert "@" not in stored


async def test_the_log_pages_and_filters_by_action_and_user(sqlite_url: str, tmp_path: Path) -> None:
    async with shop(sqlite_url, tmp_path) as s:
        for _ in range(28):
            await flow_on(s)  # two entries each: off, then on
        await segment_api(s)
        page = (await s.owner.get("/dashboard/kumo/audit")).text
        assert len(_rows(page, "flow.enabled")) + len(_rows(page, "flow.disabled")) == 49
        assert len(_rows(page, "segment.saved")) == 1
        assert 'rel="next"' in page and 'rel="prev"' not in page
        second = (await s.owner.get("/dashboard/kumo/audit", params={"page": "2"})).text
        assert len(_rows(second, "flow.disabled")) + len(_rows(second, "flow.enabled")) == 7
        assert 'rel="prev"' in second and 'rel="next"' not in second
        by_key = (await s.owner.get("/dashboard/kumo/audit", params={"user": f"key {s.kumo.api_key_prefix}…"})).text
        assert len(_rows(by_key, "segment.saved")) == 1 and not _rows(by_key, "flow.enabled")
        by_owner = (await s.owner.get("/dashboard/kumo/audit", params={"user": "owner", "action": "flow.enabled"}))
        assert len(_rows(by_owner.text, "flow.enabled")) == 28 and not _rows(by_owner.text, "flow.disabled")

        api = (await s.api.get("/api/v1/audit", params={"limit": 10, "offset": 50})).json()
        assert (api["total"], api["limit"], api["offset"], len(api["entries"])) == (57, 10, 50, 7)
        assert {e["actor"]["label"] for e in api["entries"]} == {"owner"}
        only = (await s.api.get("/api/v1/audit", params={"actor": "owner", "action": "flow.disabled"})).json()
        assert only["total"] == 28

        wrong = await s.api.get("/api/v1/audit", params={"action": "flow.melted"})
        assert wrong.status_code == 422 and "action" in wrong.text
        too_many = await s.api.get("/api/v1/audit", params={"limit": 100000})
        assert too_many.status_code == 422 and "limit" in too_many.text
        assert (await s.owner.get("/dashboard/kumo/audit", params={"action": "flow.melted"})).status_code == 400
        assert (await s.owner.get("/dashboard/kumo/audit", params={"page": "x"})).status_code == 400
        no_key = await s.owner.get("/api/v1/audit")
        assert no_key.status_code == 401


async def test_the_api_document_lists_the_audit_log(sqlite_url: str, tmp_path: Path) -> None:
    async with shop(sqlite_url, tmp_path) as s:
        document = (await s.api.get("/api/openapi.json")).json()
        operation = document["paths"]["/api/v1/audit"]["get"]
        assert {p["name"] for p in operation["parameters"]} == {"action", "actor", "limit", "offset"}
        assert "AuditPage" in document["components"]["schemas"]


@pytest.mark.parametrize(("language", "title", "action"), [("ja", "操作履歴", "フローをオフ"),
                                                            ("zh_Hans", "操作日志", "关闭流程"),
                                                            ("en", "Audit log", "flow turned off")])
async def test_the_page_is_in_the_users_language(sqlite_url: str, tmp_path: Path, language: str, title: str,
                                                 action: str) -> None:
    async with shop(sqlite_url, tmp_path) as s:
        await flow_off(s)
        _ok(await s.post("/dashboard/language", {"language": language, "next": "/dashboard/kumo/audit"}))
        page = (await s.owner.get("/dashboard/kumo/audit")).text
        assert f"<title>{title} · afterorder</title>" in page
        assert _cell(_rows(page, "flow.disabled")[0], "action") == action


async def test_a_store_made_on_the_command_line_starts_its_log(sqlite_url: str, tmp_path: Path) -> None:
    async with shop(sqlite_url, tmp_path) as s:
        def add() -> Any:
            return CliRunner().invoke(build_app(), ["store", "add", "aoyama", "--name", "Aoyama", "--email-from",
                                                "shop@aoyama.example"],
                                      env={"AFTERORDER_DATABASE_URL": sqlite_url, "AFTERORDER_CONFIG": None})
        result = await asyncio.to_thread(add)
        assert result.exit_code == 0, result.stderr
        created = json.loads(result.stdout)
        async with _client(s.runtime, KEY_ADDRESS, KEY_AGENT, Authorization=f"Bearer {created['api_key']}") as http:
            entries = (await http.get("/api/v1/audit")).json()["entries"]
        assert [(e["action"], e["target"], e["actor"]["label"], e["origin"]["address"]) for e in entries] == [
            ("store.created", "aoyama", CLI_USER, "local")]
        assert entries[0]["details"] == {"api_key": f"key {created['api_key_prefix']}…"}
        assert created["api_key"] not in json.dumps(entries)
        assert not (await s.api.get("/api/v1/audit", params={"action": "store.created"})).json()["entries"]


async def test_behind_a_trusted_proxy_the_log_names_the_client_not_the_proxy(sqlite_url: str, tmp_path: Path) -> None:
    async with shop(sqlite_url, tmp_path) as s:
        behind = create_app(s.runtime, limits=RateLimitSettings.build(trusted_proxies=["10.0.0.0/8"]))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=behind, client=("10.1.2.3", 40000)),
                                     base_url="http://127.0.0.1:8000", headers={
                                         "Authorization": f"Bearer {s.key}", "User-Agent": KEY_AGENT}) as http:
            _ok(await http.put("/api/v1/content/ugc", json={"platform": "Instagram", "hashtag": "#kumotea"},
                               headers={"X-Forwarded-For": "192.0.2.201, 10.9.9.9"}))
            _ok(await http.put("/api/v1/content/ugc", json={"platform": "Instagram", "hashtag": "#kumotea"},
                               headers={"X-Forwarded-For": "192.0.2.202"}))
        untrusted = await s.api.put("/api/v1/content/ugc", json={"platform": "Instagram", "hashtag": "#kumotea"},
                                    headers={"X-Forwarded-For": "192.0.2.203"})
        _ok(untrusted)
        entries = (await s.api.get("/api/v1/audit")).json()["entries"]
        assert [e["origin"]["address"] for e in entries] == [KEY_ADDRESS, "192.0.2.202", "192.0.2.201"]

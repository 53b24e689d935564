"""The dashboard over HTTP (the real ASGI app and database): logins, roles, stores kept apart, the
form token on every form, and the numbers on the pages against a hand-computed store history."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.db.dashboard_users import Role, add_user
from afterorder.db.schema import ab_tests, outbox, segments, store_flows, store_settings, template_overrides
from afterorder.domain import Event
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.conftest import T0
from tests.dashboard_history import PERIOD, build_history
from tests.factories import JP_STORE, US_STORE, add_store, order_event, running

PASSWORD = "correct horse battery"
# Every form of the dashboard that changes something, with a valid body (the token aside).
FORMS: dict[str, dict[str, str]] = {
    "/dashboard/kumo/flows/order-confirmation": {"enabled": "off"},
    "/dashboard/kumo/settings/industry": {"industry": "jewelry"},
    "/dashboard/kumo/settings/delivery-note-webhook": {"url": "https://kumo.example/hooks/notes"},
    "/dashboard/kumo/segments": {"slug": "repeat", "definition": "{field: stats.order_count, op: '>=', value: 2}"},
    "/dashboard/kumo/templates/order-confirmation/ja": {"action": "save",
                                                       "source": "{% block subject %}x{% endblock %}"},
    "/dashboard/kumo/templates/order-confirmation/ja/test": {"to": "me@example.com"},
    "/dashboard/kumo/tests": {"step": "order-confirmation:0", "split": "50", "metric": "open", "confidence": "0.95",
                              "min_sample": "100", "subject_ja": "B {{ order.number }}"},
    "/dashboard/kumo/tests/1/stop": {},
}


def client(runtime: Runtime) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://127.0.0.1:8000")


def token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no form token on the page"
    return found.group(1)


async def log_in(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/login")
    return await http.post("/login", data={"csrf": token(page.text), "username": username, "password": password})


async def users(runtime: Runtime) -> tuple[Any, Any]:
    kumo, _ = await add_store(runtime, JP_STORE)
    harbor, _ = await add_store(runtime, US_STORE)
    async with runtime.engine.begin() as conn:
        await add_user(conn, "owner", PASSWORD, [(kumo.id, Role.OWNER)], T0)
        await add_user(conn, "viewer", PASSWORD, [(kumo.id, Role.VIEWER)], T0)
        await add_user(conn, "agency", PASSWORD, [(kumo.id, Role.EDITOR), (harbor.id, Role.VIEWER)], T0)
    return kumo, harbor


def text_of(html: str, css_class: str, row: str) -> str:
    """The text of the cell with ``css_class`` in the table row whose opening tag contains ``row``."""
    start = html.index(row)
    cell = re.search(rf'class="[^"]*\b{css_class}\b[^"]*">(.*?)</t[dh]>', html[start:], re.S)
    assert cell, f"no {css_class} cell after {row}"
    return re.sub(r"<[^>]+>", " ", cell.group(1)).split("▲")[0].split("▼")[0].strip()


async def test_the_pages_show_the_hand_computed_numbers(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        kumo, _ = await users(runtime)
        await build_history(runtime, kumo)
        async with client(runtime) as http:
            assert (await log_in(http, "owner")).status_code == 303
            page = await http.get("/dashboard/kumo/messages", params=PERIOD)
            assert page.status_code == 200
            row = 'data-flow="delivery-follow-up" data-step="6"'
            assert text_of(page.text, "sent", row) == "10"
            assert text_of(page.text, "delivered", row) == "9"
            assert text_of(page.text, "open-rate", row) == "55.56%"
            assert text_of(page.text, "click-rate", row) == "33.33%"
            assert text_of(page.text, "order-rate", row) == "22.22%"
            assert text_of(page.text, "revenue", row) == "¥8,000"
            assert text_of(page.text, "rpr", row) == "¥889"
            assert (text_of(page.text, "unsubscribes", row), text_of(page.text, "bounces", row),
                    text_of(page.text, "complaints", row)) == ("1", "1", "1")
            confirmation = 'data-flow="order-confirmation" data-step="0"'
            assert text_of(page.text, "sent", confirmation) == "2"  # the October one is outside the period
            assert text_of(page.text, "open-rate", confirmation) == "0.00%"
            assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in page.text
            assert page.text.count('class="series"') == 4

            flows = (await http.get("/dashboard/kumo/flows")).text
            follow = flows[flows.index('id="flow-delivery-follow-up"'):flows.index('id="flow-order-confirmation"')]
            assert re.search(r'data-step="5">.*?waiting: 3<', follow, re.S)
            assert "sent: 10" in follow
            assert "skipped (no marketing consent): 2" in follow
            assert "quiet hours: 1" in follow

            bench = await http.get("/dashboard/kumo/benchmarks", params=PERIOD)
            assert "not set" in bench.text
            form = token(bench.text)
            assert (await http.post("/dashboard/kumo/settings/industry",
                                    data={"csrf": form, "industry": "home & garden"})).status_code == 303
            bench = await http.get("/dashboard/kumo/benchmarks", params=PERIOD)
            row = 'data-flow="delivery-follow-up"'
            assert 'class="num open-rate below">55.56% ▼' in bench.text  # home & garden: 64.26%
            assert 'class="num click-rate above">33.33% ▲' in bench.text  # 4.58%
            assert 'class="num order-rate above">22.22% ▲' in bench.text  # 0.53%
            assert "64.26%" in bench.text

            retention = await http.get("/dashboard/kumo/retention", params={**PERIOD, "granularity": "month"})
            assert retention.status_code == 200
            assert re.search(r'id="second-with">100.00%<', retention.text)
            assert re.search(r'id="second-without">33.33%<', retention.text)
            assert "2 of 2 first-time buyers" in retention.text and "1 of 3 first-time buyers" in retention.text
            # 8 orders, 18,000 JPY in the period: AOV 2,250; 5 customers: CLV 3,600.
            assert re.search(r'id="aov">¥2,250<', retention.text)
            assert re.search(r'id="clv">¥3,600<', retention.text)
            assert 'id="cohorts"' in retention.text and "2026-11" in retention.text



async def test_a_viewer_can_read_but_not_change_anything(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "viewer")
            flows = await http.get("/dashboard/kumo/flows")
            assert flows.status_code == 200 and "Turn off" not in flows.text
            form = token(flows.text)
            for url, data in FORMS.items():
                answer = await http.post(url, data={"csrf": form, **data})
                assert answer.status_code == 403, url
        async with runtime.engine.connect() as conn:
            for table in (store_flows, store_settings, segments, template_overrides, ab_tests):
                assert (await conn.execute(select(func.count()).select_from(table))).scalar_one() == 0


async def test_every_form_refuses_a_post_without_its_token(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            page = await http.get("/login")
            refused = await http.post("/login", data={"username": "owner", "password": PASSWORD})
            assert refused.status_code == 403 and "afterorder_session" not in refused.cookies
            assert page.status_code == 200
            await log_in(http, "owner")
            for url, data in {**FORMS, "/logout": {}}.items():
                assert (await http.post(url, data=data)).status_code == 403, url
                assert (await http.post(url, data={**data, "csrf": "forged"})).status_code == 403, url
            assert (await http.get("/dashboard/kumo/flows")).status_code == 200  # still logged in
        async with runtime.engine.connect() as conn:
            for table in (store_flows, store_settings, segments, template_overrides, ab_tests):
                assert (await conn.execute(select(func.count()).select_from(table))).scalar_one() == 0


async def test_password_guessing_is_stopped_after_ten_wrong_passwords(database_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(database_url, clock) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            for n in range(10):
                assert (await log_in(http, "owner", f"guess {n}")).status_code == 401
            locked = await log_in(http, "owner")  # even the right password, while locked
            assert locked.status_code == 429 and "try again in 15 minutes" in locked.text
            assert locked.headers["Retry-After"] == "900"
            assert "afterorder_session" not in locked.cookies
            assert (await log_in(http, "viewer")).status_code == 303  # another user is not locked out
            clock.advance(15 * 60 + 1)
            assert (await log_in(http, "owner")).status_code == 303


async def test_a_user_sees_only_their_stores_and_an_agency_switches(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            assert (await log_in(http, "owner", "wrong password")).status_code == 401
            assert (await http.get("/dashboard/kumo/flows")).status_code == 303  # to the login page
            await log_in(http, "owner")
            for path in ("flows", "messages", "benchmarks", "retention", "customers", "segments", "templates", "tests",
                         "tests/new?step=order-confirmation:0",
                         "customers/1", "templates/order-confirmation/en", "segments/count?definition=x"):
                assert (await http.get(f"/dashboard/harbor/{path}")).status_code == 404, path
            assert (await http.get("/dashboard/switch", params={"store": "harbor"})).status_code == 404
            own = await http.get("/dashboard/kumo/flows")
            assert (await http.post("/dashboard/harbor/flows/order-confirmation",
                                    data={"csrf": token(own.text), "enabled": "off"})).status_code == 404
        async with client(runtime) as http:
            await log_in(http, "agency")
            switched = await http.get("/dashboard/switch", params={"store": "harbor", "page": "templates"})
            assert switched.headers["location"] == "/dashboard/harbor/templates"
            page = await http.get("/dashboard/harbor/flows")
            assert "Harbor Goods" in page.text and "Turn off" not in page.text  # a viewer there
            page = await http.get("/dashboard/kumo/flows")
            assert "Turn off" in page.text  # an editor here
            assert (await http.get("/dashboard")).headers["location"] == "/dashboard/harbor/flows"


async def test_an_editor_turns_flows_off_and_on_and_new_orders_follow(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        kumo, _ = await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "agency")
            form = token((await http.get("/dashboard/kumo/flows")).text)
            off = await http.post("/dashboard/kumo/flows/order-confirmation", data={"csrf": form, "enabled": "off"})
            assert off.status_code == 303
            page = (await http.get("/dashboard/kumo/flows")).text
            block = page[page.index('id="flow-order-confirmation"'):]
            assert 'state">off<' in block[:400]
            await runtime.intake.ingest(kumo, [Event.model_validate(order_event("order.placed", "A1", T0))],
                                        source="api")
            assert (await http.post("/dashboard/kumo/flows/order-confirmation",
                                    data={"csrf": form, "enabled": "on"})).status_code == 303
            await runtime.intake.ingest(kumo, [Event.model_validate(order_event("order.placed", "A2", T0))],
                                        source="api")
            while await runtime.scheduler.run_due():
                pass
            page = (await http.get("/dashboard/kumo/flows")).text
            block = page[page.index('id="flow-order-confirmation"'):]
            assert 'state">on<' in block[:400]
            assert "sent: 0" in block and "queued: 1" in block  # one message, for A2 only
            assert (await http.post("/dashboard/kumo/flows/no-such-flow",
                                    data={"csrf": form, "enabled": "on"})).status_code == 404


async def test_template_edits_preview_safely_and_are_what_the_store_sends(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        kumo, _ = await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "owner")
            page = await http.get("/dashboard/kumo/templates/order-confirmation/ja")
            assert page.status_code == 200 and 'id="subject">' in page.text
            form = token(page.text)
            url = "/dashboard/kumo/templates/order-confirmation/ja"
            broken = ("{% block subject %}ご注文{% endblock %}\n{% block html %}\n<p>{{ order.number }</p>\n"
                      "{% endblock %}")
            answer = await http.post(url, data={"csrf": form, "action": "preview", "source": broken})
            assert answer.status_code == 400 and 'id="problem">line 3:' in answer.text
            escape = "{% block subject %}{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}"
            answer = await http.post(url, data={"csrf": form, "action": "save", "source": escape})
            assert answer.status_code == 400 and ("not allowed" in answer.text or "unsafe" in answer.text)
            undefined = "{% block subject %}{{ nothing.here }}{% endblock %}"
            answer = await http.post(url, data={"csrf": form, "action": "preview", "source": undefined})
            assert answer.status_code == 400 and "nothing" in answer.text
            source = re.search(r'<textarea name="source"[^>]*>(.*?)</textarea>', page.text, re.S)
            assert source  # the editor shows the built-in source; change its subject
            edited = re.sub(r"\{% block subject %\}.*?\{% endblock %\}",
                            "{% block subject %}【雲】ご注文 {{ order.number }} ありがとうございます{% endblock %}",
                            html_lib.unescape(source.group(1)), count=1, flags=re.S)
            preview = await http.post(url, data={"csrf": form, "action": "preview", "source": edited})
            assert preview.status_code == 200 and "【雲】ご注文 1001 ありがとうございます" in preview.text
            saved = await http.post(url, data={"csrf": form, "action": "save", "source": edited})
            assert saved.status_code == 200 and "saved" in saved.text
        await runtime.intake.ingest(kumo, [Event.model_validate(order_event("order.placed", "B1", T0))], source="api")
        while await runtime.scheduler.run_due():
            pass
        async with runtime.engine.connect() as conn:
            subject = (await conn.execute(select(outbox.c.subject))).scalar_one()
        assert subject == "【雲】ご注文 #B1 ありがとうございます"


async def test_a_template_previews_with_a_real_order_of_the_store_and_no_other(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        kumo, harbor = await users(runtime)
        placed = order_event("order.placed", "R7", T0)
        placed["customer"].update(first_name="美咲", last_name="佐藤")
        await runtime.intake.ingest(kumo, [Event.model_validate(placed)], source="api")
        await runtime.intake.ingest(harbor, [Event.model_validate(order_event("order.placed", "H1", T0,
                                                                              locale="en"))], source="api")
        async with client(runtime) as http:
            await log_in(http, "owner")
            url = "/dashboard/kumo/templates/order-confirmation/ja"
            for asked in ("#R7", "R7"):  # the order number as shown, or the store's own id
                page = await http.get(url, params={"order": asked})
                assert page.status_code == 200, asked
                assert "#R7" in page.text and "1001" not in re.search(r'id="subject">([^<]*)<', page.text).group(1)
                preview = html_lib.unescape(re.search(r'srcdoc="([^"]*)"', page.text, re.S).group(1))
                assert "佐藤" in preview and "京焼 急須" in preview and "花子" not in preview  # not the sample customer
                assert "real data" in page.text
            missing = await http.get(url, params={"order": "#H1"})  # harbor's order: not this store's
            assert missing.status_code == 404 and "no order" in missing.text


async def test_a_test_mail_goes_out_through_the_store_channel(sqlite_url: str, smtp_server: Any) -> None:
    async with running(sqlite_url, FrozenClock(T0), smtp_url=smtp_server.url) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "owner")
            page = await http.get("/dashboard/kumo/templates/order-confirmation/ja")
            sent = await http.post("/dashboard/kumo/templates/order-confirmation/ja/test",
                                   data={"csrf": token(page.text), "to": "staff@kumo.example"})
            assert sent.status_code == 200 and "test sent to staff@kumo.example" in sent.text
            bad = await http.post("/dashboard/kumo/templates/order-confirmation/ja/test",
                                  data={"csrf": token(page.text), "to": "not an address"})
            assert bad.status_code == 400
    mails = smtp_server.inbox.all()
    assert [m.recipients for m in mails] == [("staff@kumo.example",)]
    assert "1001" in mails[0].subject  # rendered with the sample order


async def test_customers_and_segments(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        kumo, _ = await users(runtime)
        history = await build_history(runtime, kumo)
        async with client(runtime) as http:
            await log_in(http, "owner")
            found = await http.get("/dashboard/kumo/customers", params={"q": "c1@example"})
            assert found.text.count("/dashboard/kumo/customers/") == 1
            cid = history["customers"][1]
            page = await http.get(f"/dashboard/kumo/customers/{cid}")
            assert page.status_code == 200 and "c1@example.com" in page.text
            assert page.text.count("delivery-follow-up") >= 2 and "order-confirmation" in page.text
            count = await http.get("/dashboard/kumo/segments/count",
                                   params={"definition": "{field: customer.email, op: contains, value: 'c1@'}"})
            assert count.json() == {"count": 1}
            wrong = await http.get("/dashboard/kumo/segments/count", params={"definition": "{field: nope, op: '='}"})
            assert wrong.status_code == 400 and "error" in wrong.json()
            form = token((await http.get("/dashboard/kumo/segments")).text)
            saved = await http.post("/dashboard/kumo/segments", data={
                "csrf": form, "slug": "c1", "name": "C one",
                "definition": "{field: customer.email, op: contains, value: 'c1@'}"})
            assert saved.status_code == 303
            listed = (await http.get("/dashboard/kumo/segments")).text
            assert re.search(r'data-segment="c1">.*?class="num count">1<', listed, re.S)
            assert (await http.get("/dashboard/kumo/customers/999999")).status_code == 404


@pytest.mark.parametrize("query", [{"from": "2026-13-01"}, {"from": "2026-11-30", "to": "2026-11-01"}])
async def test_a_bad_period_is_a_clear_400(sqlite_url: str, query: dict[str, str]) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        await users(runtime)
        async with client(runtime) as http:
            await log_in(http, "owner")
            for page in ("messages", "benchmarks", "retention"):
                answer = await http.get(f"/dashboard/kumo/{page}", params=query)
                assert answer.status_code == 400 and "from" in answer.text

"""The thank-you block's endpoints over the real app and database: the script (cached, under 20 KB),
the block's data for the order's token and the shop's origin only, the same 404 for every bad token,
the newsletter opt-in and the survey recorded once, CORS for the shop's origins only, rate limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from afterorder.clock import FrozenClock
from afterorder.compliance.consent import ConsentMethod
from afterorder.db.platforms import connect
from afterorder.db.schema import consent_changes, events, survey_answers
from afterorder.order_page.links import VALID_DAYS
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from afterorder.web.rate_limits import RateLimitSettings
from tests.compliance_helpers import ingest
from tests.conftest import T0
from tests.factories import US_STORE, add_store, order_event, running
from tests.thank_you_helpers import PICKS, SHOP, api, shop_with_order

OTHER = "https://evil.example"
SCRIPT_LIMIT = 20 * 1024


async def _count(runtime: Runtime, table: object, *where: object) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def test_the_script_is_small_cached_and_revalidated(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        async with api(create_app(runtime), "none") as http:
            first = await http.get("/w/kumo.js")
            assert first.status_code == 200 and first.headers["content-type"].startswith("text/javascript")
            assert len(first.content) < SCRIPT_LIMIT
            assert "max-age=3600" in first.headers["cache-control"] and first.headers["etag"]
            assert b"document.write" not in first.content and b"innerHTML" not in first.content
            again = await http.get("/w/kumo.js", headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304 and again.content == b""


async def test_the_block_shows_the_picks_to_the_shop_and_nothing_personal(database_url: str) -> None:
    async with running(database_url, FrozenClock(T0)) as runtime:
        app = create_app(runtime)
        shop = await shop_with_order(runtime, app)
        async with api(app, shop.key) as http:
            answer = await http.get(f"/w/kumo/{shop.token}.json?lang=en", headers={"Origin": SHOP})
            assert answer.status_code == 200, answer.text
            assert answer.headers["access-control-allow-origin"] == SHOP
            assert "access-control-allow-credentials" not in answer.headers
            assert answer.headers["vary"] == "Origin" and answer.headers["cache-control"] == "no-store"
            block = answer.json()
            assert block["locale"] == "ja"  # the customer's, before the page's lang
            assert [p["title"] for p in block["picks"]] == [t for t, _ in PICKS]
            assert block["newsletter"] == {"status": None}
            assert block["survey"]["question"] == "当店を何でお知りになりましたか？"
            assert block["survey"]["answer"] is None
            assert block["line_url"] is None  # the store has no LINE account
            for secret in ("A1", "京焼", "example.com", "山田", "京都市", "15,000"):
                assert secret not in answer.text, secret


async def test_every_bad_token_gets_the_same_answer_with_nothing_in_it(sqlite_url: str) -> None:
    clock = FrozenClock(T0)
    async with running(sqlite_url, clock) as runtime:
        app = create_app(runtime)
        shop = await shop_with_order(runtime, app)
        harbor, _ = await add_store(runtime, US_STORE)
        body, mac = shop.token.rsplit(".", 1)
        tampered = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
        async with api(app, shop.key) as http:
            answers = [await http.get(f"/w/kumo/{tampered}.json", headers={"Origin": SHOP}),
                       await http.get(f"/w/harbor/{shop.token}.json"),  # another store's
                       await http.get(f"/w/kumo/{shop.token}x.json", headers={"Origin": SHOP})]
            clock.advance((VALID_DAYS + 2) * 86400)
            answers.append(await http.get(f"/w/kumo/{shop.token}.json", headers={"Origin": SHOP}))  # expired
            clock.advance(-(VALID_DAYS + 2) * 86400)
            assert (await http.get(f"/w/kumo/{shop.token}.json")).status_code == 200
            assert (await http.post("/api/v1/orders/A1/order-page/revoke")).status_code == 200
            answers.append(await http.get(f"/w/kumo/{shop.token}.json", headers={"Origin": SHOP}))  # revoked
            posted = await http.post(f"/w/kumo/{tampered}/newsletter", json={"locale": "ja"}, headers={"Origin": SHOP})
        assert {a.status_code for a in answers} == {404} and posted.status_code == 404
        assert {a.content for a in answers} == {posted.content}
        assert "雲茶舗" not in posted.text and harbor.name not in posted.text
        assert await _count(runtime, consent_changes) == 0


async def test_only_the_shop_origins_are_answered(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        app = create_app(runtime)
        shop = await shop_with_order(runtime, app)
        async with api(app, shop.key) as http:
            foreign = await http.get(f"/w/kumo/{shop.token}.json", headers={"Origin": OTHER})
            assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
            assert "茶こし" not in foreign.text
            preflight = {"Origin": SHOP, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "content-type"}
            ok = await http.options(f"/w/kumo/{shop.token}/newsletter", headers=preflight)
            assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SHOP
            assert ok.headers["access-control-allow-methods"] == "POST"
            assert ok.headers["access-control-allow-headers"] == "Content-Type"
            refused = await http.options(f"/w/kumo/{shop.token}/survey", headers={**preflight, "Origin": OTHER})
            assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
            post = await http.post(f"/w/kumo/{shop.token}/newsletter", json={"locale": "ja"}, headers={"Origin": OTHER})
            assert post.status_code == 403
            assert await _count(runtime, consent_changes) == 0
            plain = await http.post(f"/w/kumo/{shop.token}/survey", content=b'{"answer": "social"}',
                                    headers={"Origin": SHOP, "Content-Type": "text/plain"})
            assert plain.status_code == 415 and plain.headers["access-control-allow-origin"] == SHOP
            assert await _count(runtime, survey_answers) == 0

            settings = await http.put("/api/v1/thank-you-block", json={"shop_origins": ["*"]})
            assert settings.status_code == 422 and settings.json()["details"][0]["field"] == "shop_origins"
            settings = await http.put("/api/v1/thank-you-block", json={"shop_origins": ["http://shop.example"]})
            assert settings.status_code == 422 and "https" in settings.json()["message"]
            back = await http.put("/api/v1/thank-you-block", json={"shop_origins": None})
            assert back.json()["shop_origins"] == [] and back.json()["source"] == "none"
            assert (await http.get(f"/w/kumo/{shop.token}.json", headers={"Origin": SHOP})).status_code == 403


async def test_the_shop_origin_defaults_to_the_connections_url(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        store, key = await add_store(runtime)
        async with runtime.engine.begin() as conn:
            await connect(conn, store.id, "saleor", runtime.clock.now(), secret=None, sealer=runtime.sealer,
                          api_url="https://Shop.Kumo.example:443/graphql/")
            await connect(conn, store.id, "ecwid", runtime.clock.now(), secret="s", sealer=runtime.sealer,
                          api_url="https://app.ecwid.com", account_id="1", token="t")
        async with api(create_app(runtime), key) as http:
            found = (await http.get("/api/v1/thank-you-block")).json()
        assert found["shop_origins"] == [SHOP] and found["source"] == "connection"
        assert found["snippet"] == (f'<script async src="{runtime.settings.base_url.rstrip("/")}/w/kumo.js" '
                                    'data-order="ORDER_PAGE_TOKEN"></script>')


@pytest.mark.parametrize("double_opt_in", [False, True])
async def test_the_newsletter_opt_in_is_recorded_once_with_its_source(sqlite_url: str, double_opt_in: bool) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        app = create_app(runtime)
        shop = await shop_with_order(runtime, app)
        async with api(app, shop.key) as http:
            if double_opt_in:
                assert (await http.patch("/api/v1/compliance", json={"double_opt_in": True})).status_code == 200
            url = f"/w/kumo/{shop.token}/newsletter"
            bad = await http.post(url, json={"locale": "fr"}, headers={"Origin": SHOP})
            assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "locale"
            first = await http.post(url, json={"locale": "ja"}, headers={"Origin": SHOP})
            second = await http.post(url, json={"locale": "ja"}, headers={"Origin": SHOP})
            status = "pending" if double_opt_in else "granted"
            assert (first.status_code, first.json()) == (201, {"status": status, "changed": True})
            assert (second.status_code, second.json()) == (200, {"status": status, "changed": False})
            assert first.headers["access-control-allow-origin"] == SHOP
            consents = (await http.get("/api/v1/consents/cust-A1")).json()
            block = (await http.get(f"/w/kumo/{shop.token}.json", headers={"Origin": SHOP})).json()
        assert block["newsletter"] == {"status": status}
        [change] = consents["changes"]
        assert change["method"] == ConsentMethod.THANK_YOU_PAGE == "thank-you-page"
        assert change["status"] == status and change["source_ip"] == "198.51.100.7"
        assert change["wording"] == "雲茶舗からのお知らせ・お得な情報をメールで受け取る。"


async def test_the_survey_answer_is_stored_once(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        app = create_app(runtime)
        shop = await shop_with_order(runtime, app)
        async with api(app, shop.key) as http:
            url = f"/w/kumo/{shop.token}/survey"
            bad = await http.post(url, json={"answer": "tv"}, headers={"Origin": SHOP})
            assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "answer"
            not_json = await http.post(url, content=b"{", headers={"Origin": SHOP, "Content-Type": "application/json"})
            assert not_json.status_code == 400
            first = await http.post(url, json={"answer": "social"}, headers={"Origin": SHOP})
            again = await http.post(url, json={"answer": "social"}, headers={"Origin": SHOP})
            other = await http.post(url, json={"answer": "friend"}, headers={"Origin": SHOP})
            block = (await http.get(f"/w/kumo/{shop.token}.json", headers={"Origin": SHOP})).json()
        assert (first.status_code, first.json()) == (201, {"answer": "social", "changed": True})
        assert (again.status_code, again.json()) == (200, {"answer": "social", "changed": False})
        assert other.status_code == 409 and other.json()["answer"] == "social"
        assert block["survey"]["answer"] == "social"
        assert await _count(runtime, survey_answers) == 1
        assert await _count(runtime, events, events.c.type == "survey.answered") == 1


async def test_the_posts_are_rate_limited(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        limits = RateLimitSettings.build(["public=2/min,burst=2"])
        app = create_app(runtime, limits=limits, limit_clock=lambda: 0.0)
        shop = await shop_with_order(runtime, app)
        async with api(app, shop.key) as http:
            url = f"/w/kumo/{shop.token}/survey"
            answers = [await http.post(url, json={"answer": "search"}, headers={"Origin": SHOP}) for _ in range(3)]
            assert [a.status_code for a in answers] == [201, 200, 429]
            assert int(answers[2].headers["retry-after"]) >= 1
            # the reads have a bucket of their own: the block still shows
            assert (await http.get(f"/w/kumo/{shop.token}.json", headers={"Origin": SHOP})).status_code == 200
        async with api(app, shop.key, ("203.0.113.9", 4000)) as neighbour:  # another customer is served
            answer = await neighbour.post(f"/w/kumo/{shop.token}/newsletter", json={"locale": "ja"},
                                          headers={"Origin": SHOP})
            assert answer.status_code == 201
        assert await _count(runtime, survey_answers) == 1


async def test_an_order_without_a_customer_offers_neither(sqlite_url: str) -> None:
    """No customer to subscribe or ask: the block shows the picks only, and a POST says why."""
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        app = create_app(runtime)
        shop = await shop_with_order(runtime, app)
        at = (T0 + timedelta(minutes=1)).isoformat()
        event = {"id": "order.placed:G1", "type": "order.placed", "occurred_at": at,
                 "order": {"id": "G1", "number": "#G1", "currency": "JPY", "total": 1000,
                           "lines": [{"product_id": "p9", "title": "Gift", "quantity": 1, "price": 1000}]}}
        await ingest(runtime, shop.store, event)
        async with api(app, shop.key) as http:
            token = (await http.get("/api/v1/orders/G1/order-page")).json()["token"]
            block = (await http.get(f"/w/kumo/{token}.json", headers={"Origin": SHOP})).json()
            posted = await http.post(f"/w/kumo/{token}/survey", json={"answer": "other"}, headers={"Origin": SHOP})
        assert block["newsletter"] is None and block["survey"] is None and block["picks"]
        assert posted.status_code == 409 and posted.json()["details"][0]["field"] == "answer"


async def test_the_block_speaks_the_customers_language_else_the_pages(sqlite_url: str) -> None:
    async with running(sqlite_url, FrozenClock(T0)) as runtime:
        app = create_app(runtime)
        shop = await shop_with_order(runtime, app, locale="zh-Hans")
        event = order_event("order.placed", "B2", T0 + timedelta(minutes=1))
        del event["customer"]["locale"]
        await ingest(runtime, shop.store, event)
        async with api(app, shop.key) as http:
            token = (await http.get("/api/v1/orders/B2/order-page")).json()["token"]
            chinese = (await http.get(f"/w/kumo/{shop.token}.json?lang=en", headers={"Origin": SHOP})).json()
            english = (await http.get(f"/w/kumo/{token}.json?lang=en-GB", headers={"Origin": SHOP})).json()
            unknown = (await http.get(f"/w/kumo/{token}.json?lang=fr", headers={"Origin": SHOP})).json()
        assert chinese["locale"] == "zh-Hans" and chinese["text"]["title"] == "感谢您的订购"
        assert chinese["survey"]["question"] == "您是通过什么渠道了解到我们的？"
        assert english["locale"] == "en" and english["text"]["title"] == "Thank you for your order"
        assert unknown["locale"] == "en"  # a page language the block does not speak: English, as the order page

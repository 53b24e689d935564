"""The after-delivery flows of the library (how-to, NPS, review request, profile survey, UGC request)
against a real ``afterorder serve --dev-clock`` and a real SMTP server: who gets which mail when, who
does not, and what a click on a survey link changes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterorder.dev.smtp_server import DevSmtpServer
from tests.e2e.library_helpers import Store, enable_flows, links, set_content, target_of, ten_am_weekday
from tests.e2e.processes import add_store_cli, serve
from tests.factories import order_event

HOW_TO = {"categories": {"teaware": [
    {"title": {"en": "Warming your teapot", "ja": "急須を温める"},
     "body": {"en": "Rinse it with hot water before brewing.", "ja": "淹れる前にお湯で温めてください。"}},
    {"title": {"en": "Caring for the glaze", "ja": "釉薬のお手入れ"},
     "body": {"en": "Never use a dishwasher.", "ja": "食洗機はご使用にならないでください。"}}]}}
PROFILE = {"questions": [
    {"key": "tea", "label": {"en": "Which tea do you like best?", "ja": "お好きなお茶は？"},
     "options": [{"value": "sencha", "label": {"en": "Sencha", "ja": "煎茶"}},
                 {"value": "matcha", "label": {"en": "Matcha", "ja": "抹茶"}}]},
    {"key": "level", "label": {"en": "How experienced are you?", "ja": "経験は？"}, "type": "choice",
     "options": [{"value": "beginner", "label": "Beginner"}, {"value": "expert", "label": "Expert"}]}]}
FLOWS = ("how-to", "nps", "review-request", "profile-survey", "ugc-request")


def delivered_order(kind: str, number: str, at: datetime, email: str, locale: str = "en") -> dict[str, Any]:
    event = order_event(kind, number, at, email=email, locale=locale)
    event["customer"]["accepts_marketing"] = True
    event["order"]["lines"] = [
        {"product_id": "kyusu", "title": "Kyoto teapot", "quantity": 1, "price": 12000, "category": "teaware",
         "image_url": "https://cdn.example/kyusu.jpg", "url": "https://kumo.example/p/kyusu"},
        {"product_id": "sencha", "title": "Sencha 100g", "quantity": 1, "price": 3000, "category": "tea",
         "image_url": "https://cdn.example/sencha.jpg", "url": "https://kumo.example/p/sencha"}]
    return event


@pytest.fixture
async def store(sqlite_url: str, smtp_server: DevSmtpServer, tmp_path: Path) -> Any:
    created = add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY",
                            support_email="support@kumo.example", reply_to="support@kumo.example")
    await enable_flows(sqlite_url, "kumo", FLOWS)
    set_content(sqlite_url, "kumo", "how-to", HOW_TO, tmp_path)  # with the CLI; the rest through the API
    async with serve(sqlite_url, smtp_server.url, "--dev-clock", log=tmp_path / "serve.log") as url:
        async with httpx.AsyncClient(timeout=10) as client:
            shop = Store(client, url, created["api_key"], smtp_server, datetime.now(UTC))
            await shop.put("content/profile-survey", PROFILE)
            await shop.put("content/nps", {"notify_email": "cx@kumo.example", "review_url": "https://kumo.example/reviews"})
            await shop.put("content/ugc", {"platform": "Instagram", "hashtag": "#kumotea"})
            bad = await client.put(f"{url}/api/v1/content/ugc", json={"platform": "Instagram", "hashtag": "kumotea"},
                                   headers={"Authorization": f"Bearer {created['api_key']}"})
            assert bad.status_code == 422 and "hashtag" in bad.json()["message"]
            yield shop


async def _click_score(store: Store, mail: Any, score: int) -> httpx.Response:
    for link in links(mail):
        if re.search(rf"/s/kumo/nps/[^/]+/{score}$", link):
            return await store.follow(link)
    raise AssertionError(f"no button {score} in the NPS mail")


async def test_after_delivery_how_to_nps_review_profile_and_ugc(store: Any) -> None:
    shop = store
    t0 = shop.now
    emma, taro, ken = "emma@example.com", "taro@example.jp", "ken@example.com"
    await shop.post(delivered_order("order.delivered", "5001", t0, emma))
    await shop.post(delivered_order("order.delivered", "5002", t0, taro, locale="ja"))
    await shop.post(delivered_order("order.delivered", "5003", t0, ken))
    again = delivered_order("order.delivered", "5001", t0 + timedelta(minutes=5), emma)
    again["id"] = "delivered-again:5001"  # the same order delivered twice: no second run (once per order)
    await shop.post(again)
    await shop.advance_to(t0 + timedelta(days=2))
    await shop.post({**delivered_order("order.refunded", "5003", shop.now, ken), "id": "refund:5003"})

    # how-to: five days after delivery, at 10:00 Tokyo on a weekday — not a minute before
    how_to_at = ten_am_weekday(t0 + timedelta(days=5))
    await shop.advance_to(how_to_at - timedelta(minutes=1))
    await shop.settle()
    assert not shop.mails(emma, "Getting the most"), "nothing before 10:00 on the first weekday after 5 days"
    await shop.advance_to(how_to_at + timedelta(minutes=1))
    first = await shop.expect(emma, "Getting the most from your order (1/2)")
    assert "Warming your teapot" in (first.text or "") and "Caring for the glaze" not in (first.text or "")
    japanese = await shop.expect(taro, "使い方・お手入れ（1/2）")
    assert "急須を温める" in (japanese.text or "")
    run = next(r for r in await shop.runs("how-to") if r["status"] == "waiting")
    wake = datetime.fromisoformat(run["wake_at"])
    assert timedelta(days=7) <= wake - how_to_at < timedelta(days=7, minutes=5), "part 2 waits a week after part 1"
    part_two_at = ten_am_weekday(wake)  # ... then for 10:00 on a weekday

    # NPS: a week after delivery; one click answers; promoters and detractors hear back an hour later
    nps_at = ten_am_weekday(t0 + timedelta(days=7))
    if nps_at > shop.now:
        await shop.advance_to(nps_at + timedelta(minutes=1))
    emma_nps = await shop.expect(emma, "how likely are you to recommend")
    taro_nps = await shop.expect(taro, "アンケート")
    scanned = [await shop.client.get(link) for link in links(emma_nps)]  # a mail scanner opens every link
    assert all(r.status_code == 200 for r in scanned)
    await shop.advance_to(shop.now + timedelta(minutes=2))
    page = await _click_score(shop, emma_nps, 10)  # then Emma clicks 10
    assert page.status_code == 200 and "10 out of 10" in page.text
    assert (await _click_score(shop, emma_nps, 10)).status_code == 200, "clicking again is harmless"
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    posted = await shop.client.post(f"{shop.url}{action.group(1)}", data={"score": "10", "comment": "Lovely pot"})
    assert posted.status_code == 200 and "comment has been saved" in posted.text
    tampered = await shop.client.get(f"{shop.url}/s/kumo/nps/AAAA.BBBB/3")
    assert tampered.status_code == 400
    assert (await _click_score(shop, taro_nps, 3)).status_code == 200
    await shop.advance_to(shop.now + timedelta(minutes=11))
    alert = await shop.expect("cx@kumo.example", "3点")
    assert "taro@example.jp" in (alert.text or "")
    await shop.advance_to(shop.now + timedelta(hours=12))
    await shop.settle()
    assert not shop.mails(emma, "Thank you for the"), "the answer is read a day after it was given"
    assert len(shop.mails("cx@kumo.example")) == 1, "the scanner's clicks on low scores alert nobody"
    await shop.advance_to(shop.now + timedelta(hours=13))
    promoter = await shop.expect(emma, "Thank you for the 10/10")
    assert "https://kumo.example/reviews" in " ".join([await target_of(shop, u) for u in links(promoter)])
    apology = await shop.expect(taro, "ご期待に沿えず")
    assert "support@kumo.example" in (apology.text or apology.html or "")
    assert not shop.mails(emma, "sorry") and not shop.mails(taro, "高い評価"), "each hears only their branch"
    answered = [r for r in await shop.runs("nps") if r["status"] == "done"]
    assert len(answered) == 2

    # ten days after delivery: the review request (items, images, a link per item) and the profile survey
    review_at = ten_am_weekday(t0 + timedelta(days=10))
    await shop.advance_to(max(review_at, shop.now) + timedelta(minutes=1))
    review = await shop.expect(emma, "How are you finding your Kyoto teapot")
    assert "https://cdn.example/sencha.jpg" in (review.html or "")
    targets = [await target_of(shop, u) for u in links(review)]
    for product in ("kyusu", "sencha"):  # a review link per item (with the store's UTM tags before the fragment)
        assert any(t.startswith(f"https://kumo.example/p/{product}?") and t.endswith("#reviews") for t in targets)
    survey = await shop.expect(emma, "help us pick what suits you")
    await shop.expect(taro, "あなたに合ったご案内")
    survey_link = next(u for u in links(survey) if "/s/kumo/profile/" in u)
    form = await shop.follow(survey_link)
    assert form.status_code == 200 and "Which tea do you like best?" in form.text
    form_action = re.search(r'action="([^"]+)"', form.text)
    assert form_action is not None
    bad = await shop.client.post(f"{shop.url}{form_action.group(1)}", data={"tea": "coffee"})
    assert bad.status_code == 400 and "tea" in bad.text
    saved = await shop.client.post(f"{shop.url}{form_action.group(1)}", data={"tea": "matcha", "level": "beginner"})
    assert saved.status_code == 200 and "answers have been saved" in saved.text
    segment = await shop.put("segments/matcha-lovers", {"condition": {"field": "customer.properties.tea", "op": "eq",
                                                                      "value": "matcha"}})
    assert segment["count"] == 1, "the answer is a profile property segments use"

    # part 2 of the how-to series, a week after part 1
    await shop.advance_to(part_two_at - timedelta(minutes=1))
    await shop.settle(0.5)
    assert not shop.mails(emma, "(2/2)")
    await shop.advance_to(part_two_at + timedelta(minutes=1))
    second = await shop.expect(emma, "(2/2)")
    assert "Caring for the glaze" in (second.text or "")

    # three weeks after delivery: the UGC ask, only to the promoter
    await shop.advance_to(ten_am_weekday(t0 + timedelta(days=21)) + timedelta(minutes=1))
    ugc = await shop.expect(emma, "on Instagram")
    assert "#kumotea" in (ugc.text or "")
    await shop.advance_to(shop.now + timedelta(days=30))
    await shop.settle()
    assert not shop.mails(taro, "Instagram"), "a detractor is not asked for UGC"
    assert shop.mails(ken) == [], "the refunded order gets no how-to, survey, review or UGC request"
    assert len(shop.mails(emma, "Getting the most")) == 2, "one series per order, however often it is delivered"
    assert len(shop.mails(emma, "help us pick")) == 1 and len(shop.mails(emma, "How are you finding")) == 1


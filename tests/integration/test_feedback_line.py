"""LINE webhooks and account linking over real HTTP, on SQLite and PostgreSQL: LINE's own samples
signed with the store's channel secret, follow / unfollow / accountLink changing the customer,
redelivered events applied once, delivery receipts of LINE notification messages, and the whole
linking flow (mail link → page → code sent in the chat → link token from a local LINE server →
confirm → LINE's dialog → accountLink) with afterorder and LINE each on a loopback port."""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afterorder.channels.line import delivery_tag
from afterorder.clock import FrozenClock
from afterorder.db.schema import feedback_receipts, line_links, outbox, store_channels
from afterorder.db.stores import StoreRow
from afterorder.feedback import line
from afterorder.feedback.line_link import line_link_url
from afterorder.keys.sealing import Sealer, new_key
from afterorder.privacy.data_rights import erase_customer
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import US_STORE, add_store, running
from tests.feedback_helpers import (
    add_channel,
    add_customer,
    customer_row,
    message_row,
    secret_key,
    sent_message,
    set_line_user,
)
from tests.loopback import loopback

__all__ = ["secret_key"]  # the fixture, used by name
FIXTURES = Path(__file__).parent.parent / "fixtures" / "line"
SECRET = "channel_secret"  # the SDK vector's secret
ACCESS_TOKEN = "kumo-line-channel-access-token"
USER = "U206d25c2ea6bd87c17655609a1c37cb8"  # the user of LINE's samples
PUBLIC = "https://ao.kumo.example"  # afterorder's configured public address (behind a proxy)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"x-line-signature": line.signature(secret, body), "content-type": "application/json"}


def event(kind: str, user: str = USER, **fields: Any) -> dict[str, Any]:
    """An event as LINE sends it, happening now, with a fresh webhookEventId."""
    return {"type": kind, "mode": "active", "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "source": {"type": "user", "userId": user}, "webhookEventId": uuid.uuid4().hex.upper(),
            "deliveryContext": {"isRedelivery": False}, **fields}


def body_of(*events: dict[str, Any]) -> dict[str, Any]:
    return {"destination": "U0123456789abcdef0123456789abcdef", "events": list(events)}


@dataclass
class LocalLine:
    """A small LINE Messaging API: link tokens and pushes, checking the channel access token."""

    push_status: int = 200
    link_status: int = 200
    link_tokens: list[str] = field(default_factory=list)  # the user ids a link token was issued for
    pushes: list[dict[str, Any]] = field(default_factory=list)
    retry_keys: list[str] = field(default_factory=list)

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {ACCESS_TOKEN}"

    async def link_token(self, request: Request) -> Response:
        if not self.authorized(request) or self.link_status == 401:
            return JSONResponse({"message": "Authentication failed"}, status_code=401)
        self.link_tokens.append(request.path_params["user_id"])
        return JSONResponse(fixture("issue_link_token_response.json"))

    async def push(self, request: Request) -> Response:
        if not self.authorized(request):
            return JSONResponse({"message": "Authentication failed"}, status_code=401)
        key = str(uuid.UUID(request.headers["x-line-retry-key"]))
        if key in self.retry_keys:
            return JSONResponse({"message": "The retry key is already accepted"}, status_code=409)
        if self.push_status != 200:
            return JSONResponse({"message": "oops"}, status_code=self.push_status)
        self.retry_keys.append(key)
        self.pushes.append(json.loads(await request.body()))
        return JSONResponse({"sentMessages": [{"id": str(len(self.pushes))}]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v2/bot/user/{user_id}/linkToken", self.link_token, methods=["POST"]),
                                 Route("/v2/bot/message/push", self.push, methods=["POST"])])


@dataclass
class Setup:
    runtime: Runtime
    store: StoreRow
    http: httpx.AsyncClient  # to afterorder, on its loopback port
    base: str  # afterorder's loopback URL
    line: LocalLine

    async def post(self, body: Any, headers: dict[str, str] | None = None, slug: str | None = None
                   ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return await self.http.post(f"/webhooks/line/{slug or self.store.slug}", content=raw,
                                    headers=signed(raw) if headers is None else headers)

    def local(self, public_url: str) -> str:
        """A public afterorder URL, reached through the 'proxy' (this test's loopback port)."""
        assert public_url.startswith(PUBLIC + "/"), public_url
        return self.base + public_url.removeprefix(PUBLIC)


@pytest.fixture
async def setup(database_url: str, secret_key: str) -> AsyncIterator[Setup]:
    local = LocalLine()
    async with (running(database_url, FrozenClock(datetime.now(UTC)), base_url=PUBLIC) as runtime,
                loopback(local.app()) as line_url, httpx.AsyncClient(timeout=10) as client):
        store, _ = await add_store(runtime)
        await add_channel(runtime, store, "line", {"api_base": line_url, "basic_id": "@kumo", "channel_secret": SECRET,
                                                   "channel_access_token": ACCESS_TOKEN})
        async with loopback(create_app(runtime, webhook_http=client)) as base, \
                httpx.AsyncClient(base_url=base, timeout=10) as http:
            yield Setup(runtime, store, http, base, local)


async def receipts(runtime: Runtime) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(feedback_receipts))).scalar_one())


# ---- signatures ----------------------------------------------------------------------------------

async def test_wrong_or_missing_signature_gets_401_and_changes_nothing(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    await set_line_user(setup.runtime, customer, USER, True)
    raw = json.dumps(fixture("webhook_unfollow.json")).encode()
    for headers in (signed(raw, "another channel's secret"), {"content-type": "application/json"},
                    {**signed(raw), "x-line-signature": line.signature(SECRET, raw + b" ")}):
        answer = await setup.post(raw, headers)
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized", answer.text
    assert "x-line-signature" in answer.json()["message"]
    assert (await customer_row(setup.runtime, customer))["line_following"] is True
    assert await receipts(setup.runtime) == 0


async def test_unknown_store_or_no_line_channel_is_404(setup: Setup) -> None:
    other, _ = await add_store(setup.runtime, US_STORE)
    raw = json.dumps(fixture("webhook_follow.json")).encode()
    missing = await setup.post(raw, slug="nosuchstore")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    unset = await setup.post(raw, slug=other.slug)
    assert unset.status_code == 404 and unset.json()["error"] == "not_configured"
    assert "afterorder channels set harbor line" in unset.json()["message"]
    async with setup.runtime.engine.begin() as conn:  # sealed with a key this installation no longer has
        await conn.execute(store_channels.update().values(secrets=Sealer([new_key()]).seal({"channel_secret": SECRET})))
    unopened = await setup.post(raw)
    assert unopened.status_code == 404 and "cannot be opened" in unopened.json()["message"]


async def test_bad_bodies_get_400_naming_what_is_wrong(setup: Setup) -> None:
    for raw, named in ((b"not json", "not JSON"), (b'{"events": {}}', "events list"),
                       (json.dumps(body_of({"type": "follow"})).encode(), "events[0].webhookEventId"),
                       (json.dumps(body_of({**event("unfollow"), "source": {"type": "user"}})).encode(),
                        "events[0].source.userId"),
                       (json.dumps(body_of(event("follow"), event("accountLink"))).encode(), "events[1].link")):
        answer = await setup.post(raw)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "malformed" and named in answer.json()["message"]
    assert await receipts(setup.runtime) == 0, "nothing of a refused body is applied, not even its good events"


# ---- follow, unfollow, redelivery -------------------------------------------------------------------

async def test_unfollow_and_follow_change_the_customer_once_each(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    bystander = await add_customer(setup.runtime, setup.store, "c2")
    await set_line_user(setup.runtime, customer, USER, None)
    await set_line_user(setup.runtime, bystander, "U" + "0" * 32, True)

    answer = await setup.post(fixture("webhook_unfollow.json"))
    assert answer.status_code == 200 and answer.json()["applied"] == 1, answer.text
    row = await customer_row(setup.runtime, customer)
    assert row["line_following"] is False, "unreachable on LINE until they follow again"
    assert row["line_changed_at"] == datetime.fromtimestamp(1462629479.859, UTC)

    assert (await setup.post(fixture("webhook_follow.json"))).json()["applied"] == 1
    assert (await customer_row(setup.runtime, customer))["line_following"] is True

    redelivered = fixture("webhook_unfollow.json")
    redelivered["events"][0]["deliveryContext"]["isRedelivery"] = True
    again = await setup.post(redelivered)
    assert again.status_code == 200 and again.json()["duplicates"] == 1 and again.json()["applied"] == 0
    assert (await customer_row(setup.runtime, customer))["line_following"] is True, "the unfollow is not re-applied"
    assert (await customer_row(setup.runtime, bystander))["line_following"] is True


async def test_an_older_event_does_not_undo_a_newer_one(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    await set_line_user(setup.runtime, customer, USER, None)
    follow = event("follow", follow={"isUnblocked": False})
    late_unfollow = {**event("unfollow"), "timestamp": follow["timestamp"] - 60_000}
    await setup.post(body_of(follow))
    await setup.post(body_of(late_unfollow))
    assert (await customer_row(setup.runtime, customer))["line_following"] is True


async def test_lines_sdk_body_of_every_event_type_is_accepted(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    answer = await setup.post(fixture("webhook_all_events.line-bot-sdk-python.json"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"applied": 3, "duplicates": 0, "ignored": 25, "link_prompts": 0,
                             "link_prompt_failures": 0}, "follow, unfollow, accountLink; chat and the rest ignored"
    assert (await customer_row(setup.runtime, customer))["line_user_id"] is None, "the sample's nonce is no one's"


# ---- delivery receipts of LINE notification messages ----------------------------------------------

async def test_delivery_completion_marks_the_message_delivered(setup: Setup) -> None:
    hashed = hashlib.sha256(b"+818000001234").hexdigest()
    assert hashed == "d41e0ad70dddfeb68f149ad6fc61574b9c5780ab7bcb2fba5517771ffbb2409c"  # LINE's vector
    first = await sent_message(setup.runtime, setup.store, channel="line", recipient=hashed, provider="line",
                               provider_message_id=None)
    second = await sent_message(setup.runtime, setup.store, channel="line", recipient=hashed, provider="line",
                                provider_message_id=None)
    other = await sent_message(setup.runtime, setup.store, channel="line", recipient="f" * 64, provider="line",
                               provider_message_id=None)
    tagged = await sent_message(setup.runtime, setup.store, channel="line", recipient="e" * 64, provider="line",
                                provider_message_id=None)
    tagged_row = await message_row(setup.runtime, tagged)
    tag = delivery_tag(tagged_row["message_id"])  # what the channel sent as X-Line-Delivery-Tag, kept as its id
    async with setup.runtime.engine.begin() as conn:
        await conn.execute(outbox.update().where(outbox.c.id == tagged).values(provider_message_id=tag))
    delivered = {**event("delivery", delivery={"data": hashed})}
    del delivered["source"]
    answer = await setup.post(body_of(delivered, {**delivered, "webhookEventId": "01H" + "X" * 23,
                                                  "delivery": {"data": tag}}))
    assert answer.status_code == 200 and answer.json()["applied"] == 2, answer.text
    assert (await message_row(setup.runtime, first))["provider_status"] == "delivered"
    assert (await message_row(setup.runtime, second))["provider_status"] is None, "one event, one message"
    assert (await message_row(setup.runtime, other))["provider_status"] is None
    assert (await message_row(setup.runtime, tagged))["provider_status"] == "delivered", "found by its delivery tag"
    second_event = {**delivered, "webhookEventId": uuid.uuid4().hex}
    await setup.post(body_of(second_event))
    assert (await message_row(setup.runtime, second))["provider_status"] == "delivered"


# ---- account linking -------------------------------------------------------------------------------

def page_parts(page: str) -> tuple[str, str]:
    """(the chat URL of the page's button, the code it shows)."""
    chat = re.search(r'class="open" href="([^"]+)"', page)
    code = re.search(r'id="code">([A-Z0-9-]+)<', page)
    assert chat and code, page
    return html.unescape(chat.group(1)), code.group(1)


def chat_text(chat_url: str) -> str:
    assert chat_url.startswith("https://line.me/R/oaMessage/%40kumo/?"), chat_url
    return unquote(chat_url.split("/?", 1)[1])


async def test_linking_a_customer_end_to_end(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1", locale="ja")
    mail_link = line_link_url(PUBLIC, setup.store.slug, setup.runtime.signers.of(setup.store), customer)

    page = await setup.http.get(setup.local(mail_link))
    assert page.status_code == 200 and "LINEで通知を受け取る" in page.text and 'lang="ja"' in page.text
    assert 'name="viewport"' in page.text
    chat, code = page_parts(page.text)
    assert chat_text(chat) == f"LINE連携コード {code}"
    assert page_parts((await setup.http.get(setup.local(mail_link))).text)[1] == code, "a reload shows the same code"

    # the customer taps the button and sends the prefilled message from LINE
    message = event("message", message={"id": "1", "type": "text", "text": chat_text(chat), "quoteToken": "q"},
                    replyToken="r")
    answer = await setup.post(body_of(message))
    assert answer.status_code == 200, answer.text
    assert answer.json()["link_prompts"] == 1 and answer.json()["link_prompt_failures"] == 0
    assert setup.line.link_tokens == [USER]
    [push] = setup.line.pushes
    assert push["to"] == USER
    [button] = push["messages"]
    assert button["type"] == "template" and "雲茶舗" in button["altText"]
    confirm = button["template"]["actions"][0]["uri"]
    assert confirm.startswith(f"{PUBLIC}/line/link/kumo/confirm?t=")

    # LINE opens the button's page, which sends the customer on to LINE's account-link dialog
    redirect = await setup.http.get(setup.local(confirm), follow_redirects=False)
    assert redirect.status_code == 303, redirect.text
    dialog = urlsplit(redirect.headers["location"])
    assert f"{dialog.scheme}://{dialog.netloc}{dialog.path}" == "https://access.line.me/dialog/bot/accountLink"
    query = parse_qs(dialog.query)
    assert query["linkToken"] == [fixture("issue_link_token_response.json")["linkToken"]]
    nonce = query["nonce"][0]
    assert len(nonce) >= 22
    assert (await customer_row(setup.runtime, customer))["line_user_id"] is None, "not linked before LINE says so"

    # LINE reports the link
    linked = fixture("webhook_accountLink.json")
    linked["events"][0].update(timestamp=int(datetime.now(UTC).timestamp() * 1000),
                               webhookEventId=uuid.uuid4().hex, link={"result": "ok", "nonce": nonce})
    assert (await setup.post(linked)).json()["applied"] == 1
    row = await customer_row(setup.runtime, customer)
    assert row["line_user_id"] == USER and row["line_following"] is True

    # the nonce is spent: LINE's redelivery changes nothing, and the confirm page says the link is used
    linked["events"][0]["deliveryContext"]["isRedelivery"] = True
    assert (await setup.post(linked)).json()["duplicates"] == 1
    assert (await setup.http.get(setup.local(confirm), follow_redirects=False)).status_code == 410

    # erasing the customer removes their LINE user id and the link
    async with setup.runtime.engine.begin() as conn:
        assert (await erase_customer(conn, setup.store.id, "c1", setup.runtime.clock.now()))["line_links"] == 1
    assert (await customer_row(setup.runtime, customer))["line_user_id"] is None


async def test_only_the_user_who_sent_the_code_can_spend_its_nonce(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    _, code = page_parts((await setup.http.get(setup.local(
        line_link_url(PUBLIC, "kumo", setup.runtime.signers.of(setup.store), customer)))).text)
    await setup.post(body_of(event("message", message={"type": "text", "text": code})))
    confirm = setup.line.pushes[0]["messages"][0]["template"]["actions"][0]["uri"]
    nonce = parse_qs(urlsplit((await setup.http.get(setup.local(confirm))).headers["location"]).query)["nonce"][0]
    stranger = "U" + "f" * 32
    stolen = event("accountLink", user=stranger, link={"result": "ok", "nonce": nonce})
    failed = event("accountLink", link={"result": "failed", "nonce": nonce})
    assert (await setup.post(body_of(stolen, failed))).status_code == 200
    assert (await customer_row(setup.runtime, customer))["line_user_id"] is None
    await setup.post(body_of(event("accountLink", link={"result": "ok", "nonce": nonce})))
    assert (await customer_row(setup.runtime, customer))["line_user_id"] == USER


async def test_a_code_is_good_for_an_hour(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    _, code = page_parts((await setup.http.get(setup.local(
        line_link_url(PUBLIC, "kumo", setup.runtime.signers.of(setup.store), customer)))).text)
    clock = setup.runtime.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(3601)
    answer = await setup.post(body_of(event("message", message={"type": "text", "text": code})))
    assert answer.json()["link_prompts"] == 0 and setup.line.link_tokens == []


async def test_a_push_line_refuses_is_reported_not_raised(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    _, code = page_parts((await setup.http.get(setup.local(
        line_link_url(PUBLIC, "kumo", setup.runtime.signers.of(setup.store), customer)))).text)
    setup.line.push_status = 500
    answer = await setup.post(body_of(event("message", message={"type": "text", "text": code})))
    assert answer.status_code == 200 and answer.json()["link_prompt_failures"] == 1
    setup.line.push_status, setup.line.link_status = 200, 401  # e.g. the channel access token was reissued
    answer = await setup.post(body_of(event("message", message={"type": "text", "text": code})))
    assert answer.status_code == 200 and answer.json()["link_prompt_failures"] == 1
    setup.line.link_status = 200
    again = await setup.post(body_of(event("message", message={"type": "text", "text": f"again {code}"})))
    assert again.json()["link_prompts"] == 1, "sending the code again retries"


async def test_the_page_speaks_the_customers_language(setup: Setup) -> None:
    english = await add_customer(setup.runtime, setup.store, "en1", locale="en")
    unknown = await add_customer(setup.runtime, setup.store, "xx1", locale=None)
    signer = setup.runtime.signers.of(setup.store)
    page = await setup.http.get(setup.local(line_link_url(PUBLIC, "kumo", signer, english)),
                                headers={"accept-language": "ja"})
    assert "Get updates on LINE" in page.text and chat_text(page_parts(page.text)[0]).startswith("LINE link code ")
    page = await setup.http.get(setup.local(line_link_url(PUBLIC, "kumo", signer, unknown)),
                                headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert "用LINE接收通知" in page.text and 'lang="zh-Hans"' in page.text
    assert chat_text(page_parts(page.text)[0]).startswith("LINE绑定码 ")


async def test_bad_links_and_stores_without_line_get_a_page_saying_so(setup: Setup) -> None:
    customer = await add_customer(setup.runtime, setup.store, "c1")
    link = setup.local(line_link_url(PUBLIC, "kumo", setup.runtime.signers.of(setup.store), customer))
    tampered = await setup.http.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB"))
    assert tampered.status_code == 400 and "このリンクは無効です" in tampered.text
    other, _ = await add_store(setup.runtime, US_STORE)
    other_signer = setup.runtime.signers.of(other)
    elsewhere = await setup.http.get(setup.local(line_link_url(PUBLIC, other.slug, other_signer, customer)))
    assert elsewhere.status_code == 400, "a customer of another store"
    theirs = await add_customer(setup.runtime, other, "h1", locale="en")
    unavailable = await setup.http.get(setup.local(line_link_url(PUBLIC, other.slug, other_signer, theirs)))
    assert unavailable.status_code == 404 and "does not send updates on LINE" in unavailable.text
    forged_confirm = await setup.http.get(f"/line/link/kumo/confirm?t={link.rsplit('/', 1)[1]}")
    assert forged_confirm.status_code == 400, "a mail link is not a confirm button"
    async with setup.runtime.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(line_links))).scalar_one() == 0

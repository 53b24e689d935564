"""The development inbox's LINE and SMS tabs over HTTP: the demo's stores set up as ``afterorder demo``
sets them up (``demo_reach``), messages sent through those stored setups to the demo's local LINE and
Twilio on loopback, and what the pages show of them — Flex cards, text bubbles, the notification
line, phone threads with segments and encoding, the customer each went to — with every value escaped.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from afterorder.channels.base import ChannelKind, OutgoingMessage, SendOutcome
from afterorder.channels.catalog import provider
from afterorder.channels.setup import load_setups
from afterorder.clock import FrozenClock
from afterorder.db.stores import StoreRow, create_store
from afterorder.dev.demo import STORES
from afterorder.dev.demo_reach import set_up_channels
from afterorder.dev.receivers import DevReceivers, start_dev_receivers
from afterorder.domain import Event
from afterorder.runtime import Runtime
from afterorder.web.app import create_app
from tests.factories import order_event, running

HANAKO = "U" + "4af4980629" * 3 + "ab"
STRANGER = "U" + "0123456789" * 3 + "cd"
HOSTILE = '<script>alert("x")</script>'


def order_card(alt_text: str) -> dict[str, Any]:
    """A Flex order card as the Kyoto store's notices look: hero, title, items, total, button."""
    def row(*texts: dict[str, Any]) -> dict[str, Any]:
        return {"type": "box", "layout": "horizontal", "contents": list(texts)}

    return {"type": "flex", "altText": alt_text, "contents": {
        "type": "bubble",
        "hero": {"type": "image", "url": "https://cdn.example/hero.jpg", "size": "full", "aspectRatio": "20:13"},
        "body": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "ご注文ありがとうございます", "weight": "bold", "size": "lg"},
            {"type": "text", "text": f"山田様 {HOSTILE}", "wrap": True},
            {"type": "separator"},
            row({"type": "image", "url": "https://cdn.example/p1.jpg", "size": "xs", "flex": 0},
                {"type": "text", "text": "玉露 雫 100g × 2"}, {"type": "text", "text": "¥6,400", "align": "end",
                                                               "flex": 0}),
            row({"type": "text", "text": "合計", "weight": "bold"},
                {"type": "text", "text": "¥7,000", "weight": "bold", "align": "end"})]},
        "footer": {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary", "color": "#3a6b35",
             "action": {"type": "uri", "label": "ご注文内容を確認する", "uri": "https://kumo.example/o/1?a=1&b=2"}},
            {"type": "button", "action": {"type": "uri", "label": "危ない", "uri": "javascript:alert(1)"}}]}}}


def outgoing(channel: ChannelKind, to: str, payload: dict[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(f"<{uuid.uuid4().hex}@demo.example>", "", (to,),
                           json.dumps(payload, ensure_ascii=False).encode(), channel, template="order-confirmation")


@pytest.fixture
async def dev() -> AsyncIterator[DevReceivers]:
    receivers = await start_dev_receivers()
    yield receivers
    await receivers.close()


async def demo_store(runtime: Runtime, dev: DevReceivers, slug: str) -> StoreRow:
    spec = next(s for s in STORES if s["slug"] == slug)
    async with runtime.engine.begin() as conn:
        store, _ = await create_store(conn, runtime.clock.now(), **spec)
        await set_up_channels(conn, runtime.sealer, store, dev, runtime.clock.now())
    return store


async def send(runtime: Runtime, store: StoreRow, message: OutgoingMessage) -> None:
    """Through the store's stored provider setup, built as delivery builds it."""
    async with runtime.engine.connect() as conn:
        [setup] = [s for s in await load_setups(conn, runtime.sealer, [store.id]) if s.channel is message.channel]
    spec = provider(setup.provider)
    channel = spec.build(spec.check(setup.options()), None)
    try:
        result = await channel.send(message)
    finally:
        await channel.close()
    assert result.outcome is SendOutcome.SENT, result


async def customer(runtime: Runtime, store: StoreRow, **fields: Any) -> None:
    event = order_event("order.placed", f"o-{uuid.uuid4().hex[:8]}", runtime.clock.now())
    event["customer"].update(fields)
    await runtime.intake.ingest(store, [Event.model_validate(event)], source="test", raw=[event])


def section(page: str, to: str) -> str:
    found = re.search(rf'<section class="conversation \w+" data-to="{re.escape(to)}">(.*?)</section>', page, re.S)
    assert found, f"no conversation with {to}"
    return found.group(1)


async def get(runtime: Runtime, dev: DevReceivers | None, path: str) -> httpx.Response:
    app = create_app(runtime, dev=dev)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        return await http.get(path)


async def test_line_chats_show_flex_cards_text_bubbles_and_the_notification_line(
        sqlite_url: str, dev: DevReceivers) -> None:
    async with running(sqlite_url, FrozenClock(datetime.now(UTC))) as runtime:
        kumo = await demo_store(runtime, dev, "kumo-tea")
        await customer(runtime, kumo, line_user_id=HANAKO, first_name="花子", last_name="山田", locale="ja")
        await send(runtime, kumo, outgoing(ChannelKind.LINE, HANAKO, {"messages": [
            order_card(f"ご注文ありがとうございます（#1001）{HOSTILE}")]}))
        await send(runtime, kumo, outgoing(ChannelKind.LINE, HANAKO, {"messages": [
            {"type": "text", "text": "商品を発送しました\nお届けまでしばらくお待ちください"},
            {"type": "sticker", "packageId": "446", "stickerId": "1988"}]}))
        await send(runtime, kumo, outgoing(ChannelKind.LINE, STRANGER, {"messages": [
            {"type": "text", "text": "Hello"}]}))
        page = (await get(runtime, dev, "/inbox/line")).text

    assert 'id="tab-line" class="tab on" aria-current="page">LINE <span class="count">3</span>' in page
    assert page.index(f'data-to="{STRANGER}"') < page.index(f'data-to="{HANAKO}"')  # the latest chat first
    chat = section(page, HANAKO)
    assert "<h2>山田 花子 · kumo-tea</h2>" in chat
    assert ('<div class="notify"><b>notification</b>ご注文ありがとうございます（#1001）'
            '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</div>') in chat
    assert '<img class="flex-image" src="https://cdn.example/hero.jpg"' in chat
    for text in ("ご注文ありがとうございます", "玉露 雫 100g × 2", "¥6,400", "合計", "¥7,000"):
        assert re.search(rf'<div class="flex-text" style="[^"]*">{text}</div>', chat), text
    assert "山田様 &lt;script&gt;" in chat and "<script>" not in page
    assert re.search(r'<a class="flex-button" href="https://kumo.example/o/1\?a=1&amp;b=2"[^>]*>ご注文内容を確認する</a>',
                     chat)
    assert re.search(r'<a class="flex-button" style="[^"]*">危ない</a>', chat) and "javascript:" not in page
    assert chat.index("ご注文内容を確認する") < chat.index("商品を発送しました")  # oldest first within a chat
    assert re.search(r'<div class="line-text" style="[^"]*">商品を発送しました\nお届けまでしばらくお待ちください</div>',
                     chat)
    assert '<div class="bubble other">[sticker]</div>' in chat
    assert "<h2>a LINE user no store knows</h2>" in section(page, STRANGER)


async def test_sms_threads_show_each_text_with_its_time_segments_and_encoding(
        sqlite_url: str, dev: DevReceivers) -> None:
    long_japanese = ("【Harbor Goods】ご注文の商品を発送しました。お届け予定日は明後日です。"
                     "配送状況はこちらからご確認いただけます：")  # with the link: 88 UTF-16 units, 2 segments
    async with running(sqlite_url, FrozenClock(datetime.now(UTC))) as runtime:
        harbor = await demo_store(runtime, dev, "harbor-goods")
        await customer(runtime, harbor, phone="+14155550101", first_name="Emma", last_name="Smith", locale="en")
        await send(runtime, harbor, outgoing(ChannelKind.SMS, "+14155550101", {
            "text": "Harbor Goods: order #1002 shipped. Track it: http://127.0.0.1:8000/c/Ab3", "params": {}}))
        await send(runtime, harbor, outgoing(ChannelKind.SMS, "+14155550101", {
            "text": long_japanese + "http://127.0.0.1:8000/c/Xy9", "params": {}}))
        await send(runtime, harbor, outgoing(ChannelKind.SMS, "+819012345678", {"text": HOSTILE, "params": {}}))
        page = (await get(runtime, dev, "/inbox/sms")).text

    assert 'id="tab-sms" class="tab on" aria-current="page">SMS <span class="count">3</span>' in page
    thread = section(page, "+14155550101")
    assert "<h2>Emma Smith · harbor-goods</h2>" in thread
    assert ('Harbor Goods: order #1002 shipped. Track it: <a href="http://127.0.0.1:8000/c/Ab3" target="_blank" '
            'rel="noopener noreferrer">http://127.0.0.1:8000/c/Ab3</a>') in thread
    assert re.search(r'<time datetime="[^"]+">\d\d-\d\d \d\d:\d\d</time> · '
                     r'<span class="segments">1 segment, GSM-7</span>', thread)
    assert '<span class="segments">2 segments, UCS-2</span>' in thread
    assert thread.index("order #1002") < thread.index("ご注文の商品を発送しました")
    stranger = section(page, "+819012345678")
    assert "<h2>a number no store knows</h2>" in stranger and "&lt;script&gt;" in stranger and "<script>" not in page


async def test_without_the_demos_providers_the_inbox_has_mail_only(sqlite_url: str) -> None:
    smtp_only = await start_dev_receivers(sinks=False)
    try:
        async with running(sqlite_url, FrozenClock(datetime.now(UTC))) as runtime:
            mail = await get(runtime, smtp_only, "/inbox")
            line = await get(runtime, smtp_only, "/inbox/line")
            none = await get(runtime, None, "/inbox/sms")
    finally:
        await smtp_only.close()
    assert mail.status_code == 200 and 'id="tab-mail"' in mail.text and 'id="tab-line"' not in mail.text
    assert line.status_code == 404 and "afterorder demo" in line.json()["message"]
    assert none.status_code == 404 and "--dev-smtp" in none.json()["message"]

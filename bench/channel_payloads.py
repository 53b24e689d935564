"""Outbox rows already rendered, in the real payload formats, for ``bench/channels.py``.

* LINE: ``{"messages": [<Flex message>]}`` — a shipping-notice bubble (header, the order's lines,
  a tracking button) with its ``altText``, to a LINE user id (``U`` + 32 hex);
* email (SES and SMTP): the MIME bytes ``afterorder.channels.email.mime.build_email`` makes (multipart/alternative,
  text and HTML in base64), an order confirmation of about the size the scheduler renders.

Each message has its own idempotency key and Message-ID, so the sink can tell them apart (LINE's
retry key is derived from the Message-ID).  The messages are written straight into the outbox by
its writer (``afterorder.delivery.outbox``), past the scheduler (the bench's shortcut: rendering
thousands the real way is the scheduler's figure, measured by ``bench/throughput.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels.base import ChannelKind, OutgoingMessage
from afterorder.channels.email.mime import build_email
from afterorder.db.schema import outbox
from afterorder.delivery.outbox import OutboxMessage, write_messages
from afterorder.domain import RenderedMessage, StoreSnapshot

CHUNK = 500  # rows per INSERT (executemany)
EMAIL_DOMAIN = "bench.example"
ITEMS = (("リネンシャツ", "M / 白", "¥5,800", 1), ("コットンソックス", "3足組", "¥1,200", 2),
         ("キャンバストート", "生成り", "¥3,400", 1))


@dataclass(frozen=True)
class Queued:
    """What was queued for one run: its outbox ids, and the key the sink records for each message."""

    ids: list[int]
    keys: set[str]  # LINE: the retry key; email: the Message-ID
    mean_bytes: int


def line_user(tag: str, index: int) -> str:
    return "U" + hashlib.md5(f"{tag}/{index}".encode()).hexdigest()


def flex_message(order: str) -> dict[str, Any]:
    """A LINE Flex message: the shipping notice a store sends (a bubble within LINE's limits)."""
    lines = [{"type": "box", "layout": "horizontal", "contents": [
        {"type": "text", "text": f"{title}（{variant}）× {qty}", "size": "sm", "color": "#555555", "flex": 0},
        {"type": "text", "text": price, "size": "sm", "color": "#111111", "align": "end"}]}
        for title, variant, price, qty in ITEMS]
    bubble = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "発送のお知らせ", "weight": "bold", "color": "#1DB446", "size": "sm"},
            {"type": "text", "text": "京都茶舗", "weight": "bold", "size": "xxl", "margin": "md"}]},
        "body": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": f"ご注文 {order} を発送しました。", "wrap": True, "size": "sm"},
            {"type": "separator", "margin": "xxl"},
            {"type": "box", "layout": "vertical", "margin": "xxl", "spacing": "sm", "contents": lines},
            {"type": "separator", "margin": "xxl"},
            {"type": "box", "layout": "horizontal", "margin": "md", "contents": [
                {"type": "text", "text": "配送業者", "size": "xs", "color": "#aaaaaa", "flex": 0},
                {"type": "text", "text": "ヤマト運輸 4321-1234-5678", "color": "#aaaaaa", "size": "xs",
                 "align": "end"}]}]},
        "footer": {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary", "action": {
                "type": "uri", "label": "配送状況を見る",
                "uri": f"https://shop.bench.example/track/{order.strip('#')}"}}]},
        "styles": {"footer": {"separator": True}},
    }
    return {"type": "flex", "altText": f"ご注文 {order} を発送しました", "contents": bubble}


def line_payload(order: str) -> bytes:
    return json.dumps({"messages": [flex_message(order)]}, ensure_ascii=False).encode("utf-8")


def order_email(store: StoreSnapshot, to: str, order: str, message_id: str, now: datetime) -> bytes:
    """The MIME bytes of an order confirmation (a table of lines, as the templates render one)."""
    rows = "".join(
        f'<tr><td style="padding:8px 0;border-bottom:1px solid #eeeeee;font-family:Helvetica,Arial,sans-serif;'
        f'font-size:14px;color:#333333">{title}<br><span style="color:#888888;font-size:12px">{variant} '
        f'× {qty}</span></td><td align="right" style="padding:8px 0;border-bottom:1px solid #eeeeee;'
        f'font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#333333">{price}</td></tr>'
        for title, variant, price, qty in ITEMS * 4)
    html = ('<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width"><title>ご注文ありがとうございます</title></head>'
            '<body style="margin:0;padding:0;background:#f4f4f4"><table role="presentation" width="100%" '
            'cellpadding="0" cellspacing="0"><tr><td align="center"><table role="presentation" width="600" '
            'style="background:#ffffff;margin:24px auto;padding:24px">'
            f'<tr><td><h1 style="font-family:Helvetica,Arial,sans-serif;font-size:22px">ご注文 {order} '
            'ありがとうございます</h1><p style="font-family:Helvetica,Arial,sans-serif;font-size:14px;'
            'line-height:1.6">以下の内容でご注文を承りました。発送の準備ができ次第、改めてお知らせします。'
            f'</p></td></tr><tr><td><table width="100%">{rows}</table></td></tr>'
            '<tr><td style="padding-top:24px;font-family:Helvetica,Arial,sans-serif;font-size:12px;'
            'color:#888888">京都茶舗 · 京都市中京区 1-2-3 · <a href="https://shop.bench.example/unsubscribe">'
            '配信停止</a></td></tr></table></td></tr></table></body></html>')
    text = (f"ご注文 {order} ありがとうございます。\n\n"
            + "\n".join(f"{t}（{v}）× {q}  {p}" for t, v, p, q in ITEMS * 4)
            + "\n\n京都茶舗 · 京都市中京区 1-2-3\n")
    rendered = RenderedMessage(f"ご注文 {order} ありがとうございます", html, text)
    return build_email(store, to=to, rendered=rendered, message_id=message_id, category="transactional",
                       date=now)


def build_rows(store: StoreSnapshot, store_id: int, channel: ChannelKind, tag: str, count: int, now: datetime
               ) -> tuple[list[OutboxMessage], set[str]]:
    """(the outbox messages, the sink's key of each) for ``count`` messages on ``channel``."""
    messages, keys = [], set()
    domain = store.email_from.rsplit("@", 1)[-1]
    for index in range(count):
        key, order = f"bench:{tag}:{index}", f"#{200000 + index}"
        message_id = f"<bench.{tag}.{index}@{domain}>"
        if channel is ChannelKind.LINE:
            to, data = line_user(tag, index), line_payload(order)
            keys.add(OutgoingMessage(message_id, "", (to,), data, channel).retry_key)
        else:
            to = f"c{index}-{tag}@{EMAIL_DOMAIN}"
            data = order_email(store, to, order, message_id, now)
            keys.add(message_id)
        messages.append(OutboxMessage(
            store_id=store_id, idempotency_key=key, message_id=message_id, channel=channel, category="transactional",
            template="order_shipped" if channel is ChannelKind.LINE else "order_confirmation", locale="ja",
            envelope_from=store.email_from, recipient=to, data=data.decode("utf-8"), next_attempt_at=now,
            created_at=now))
    return messages, keys


async def queue(engine: AsyncEngine, store: StoreSnapshot, store_id: int, channel: ChannelKind, tag: str,
                count: int, now: datetime) -> Queued:
    """Write ``count`` rendered messages into the outbox, queued and due now."""
    messages, keys = build_rows(store, store_id, channel, tag, count, now)
    async with engine.begin() as conn:
        for start in range(0, count, CHUNK):
            await write_messages(conn, messages[start:start + CHUNK])
        found = await conn.execute(outbox.select().with_only_columns(outbox.c.id).where(
            outbox.c.store_id == store_id, outbox.c.idempotency_key.like(f"bench:{tag}:%")))
        ids = [r.id for r in found]
    mean = sum(len(m.data.encode("utf-8")) for m in messages) // max(count, 1)
    return Queued(ids, keys, mean)

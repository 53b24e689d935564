"""Preview and test send of one message of a flow (``afterorder preview FLOW/STEP [--channel line|sms]``,
``send-test``, and ``GET /api/v1/flows/{flow}/steps/{n}/preview[?channel=line|sms]`` / ``POST .../send-test``).

STEP is the n-th message of the flow (1 = its first ``send``) or the template's name.  With a customer,
the message is rendered from their data (their latest order, recommendations picked for them); without
one, from sample data in the locale asked for, with the store's own products when it has some.  A coupon
is shown as a sample code and never taken from a pool.  Marketing messages are shown as a consenting
customer sees them (promotions and the legal footer).

On LINE the preview is the message objects and their ``altText``; on SMS the text as it is sent, its
links already short (``{base}/c/{code}``, leading nowhere: no message has the preview's key), so the
encoding and segment count are those of the real message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import Channel, ChannelKind, OutgoingMessage
from afterorder.channels.email.mime import build_email
from afterorder.compliance.message import MessageCompliance, preferences_url, unsubscribe_url
from afterorder.content import Renderer
from afterorder.content.channel_render import Rendering
from afterorder.content.sms import SmsRendered
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from afterorder.db.schema import orders, products
from afterorder.db.stores import StoreRow
from afterorder.domain import CustomerSnapshot, LineSnapshot, OrderSnapshot, RenderedMessage
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.extras import empty_extras
from afterorder.flows.facts import load_customer, load_order
from afterorder.flows.spec import FlowSpec, Send
from afterorder.promotions.coupons import generate_code
from afterorder.promotions.recommendations import recommend
from afterorder.signing import Signer
from afterorder.tracking.links import LinkContext, instrument_sms
from afterorder.tracking.settings import TrackingSettings, load_settings

TEST_PREFIX = "[TEST] "
# No run has id 0, so a preview's short links lead nowhere; the code is as long as a real message's
# (a run id in the millions), so the segment count is the real one.
PREVIEW_KEY = "run:0:step:2097152"
SAMPLE_NAMES = {"ja": ("花子", "佐藤"), "zh-Hans": ("伟", "李"), "en": ("Jane", "Doe")}


class PreviewError(ValueError):
    """The flow, the step or the customer does not exist; the message says which."""


@dataclass(frozen=True)
class Preview:
    flow: str
    step: int  # 1-based among the flow's messages
    template: str
    category: str
    locale: str
    sample: bool  # rendered from sample data, not a real customer's
    message: Rendering  # a RenderedMessage for email, LineRendered for LINE, SmsRendered for SMS
    channel: ChannelKind = ChannelKind.EMAIL

    @property
    def email(self) -> RenderedMessage:
        """The email preview; ValueError for another channel's."""
        if not isinstance(self.message, RenderedMessage):
            raise ValueError(f"this is the {self.channel.value} preview, not the email")
        return self.message


def find_step(spec: FlowSpec, step: str) -> tuple[int, Send]:
    sends = [i for i in spec.program if isinstance(i, Send)]
    if step.isdigit():
        n = int(step)
        if not 1 <= n <= len(sends):
            raise PreviewError(f"flow {spec.id!r} has {len(sends)} message(s); STEP is 1..{len(sends)} or a "
                               f"template name ({', '.join(s.template for s in sends)})")
        return n, sends[n - 1]
    for n, send in enumerate(sends, start=1):
        if send.template == step:
            return n, send
    raise PreviewError(f"flow {spec.id!r} sends no template {step!r}; it sends: "
                       f"{', '.join(s.template for s in sends)}")


async def _sample_lines(conn: AsyncConnection, store: StoreRow) -> tuple[LineSnapshot, ...]:
    rows = (await conn.execute(select(products).where(
        products.c.store_id == store.id, products.c.title.is_not(None), products.c.image_url.is_not(None))
        .order_by(products.c.id).limit(2))).all()
    if rows:
        return tuple(LineSnapshot(r.title, 1, Decimal(r.price or 0), variant=r.variant, sku=r.sku,
                                  image_url=r.image_url, url=r.url, category=r.category) for r in rows)
    return (LineSnapshot("Sample product", 1, Decimal("3000"), image_url=None,
                         url=None, category="sample"),)


def preview_short_links(rendered: SmsRendered, store: StoreRow, signer: Signer, base_url: str,
                        settings: TrackingSettings) -> SmsRendered:
    """The SMS with its links made short as when it is sent (under :data:`PREVIEW_KEY`), signed with
    the store's key (``signer``: ``afterorder.keys.signers``)."""
    return instrument_sms(rendered, LinkContext(signer, store.id, PREVIEW_KEY, base_url, None, "preview",
                                                settings))


async def build_preview(conn: AsyncConnection, catalog: FlowCatalog, renderer: Renderer, store: StoreRow,
                        base_url: str, flow_id: str, step: str, locale: str, now: datetime,
                        customer_id: int | None = None, channel: ChannelKind = ChannelKind.EMAIL, *,
                        signer: Signer) -> Preview:
    try:
        spec = catalog.get(flow_id, store.slug)
    except KeyError:
        raise PreviewError(f"no flow {flow_id!r}; see `afterorder flows list`") from None
    n, send = find_step(spec, step)
    snapshot = store.snapshot(base_url)
    order: OrderSnapshot | None
    if customer_id is not None:
        row = await load_customer(conn, store.id, customer_id)
        if row is None:
            raise PreviewError(f"store {store.slug!r} has no customer {customer_id}")
        customer = customer_snapshot(row)
        latest = (await conn.execute(select(orders.c.id).where(
            orders.c.store_id == store.id, orders.c.customer_id == customer_id)
            .order_by(orders.c.placed_at.desc()).limit(1))).first()
        order_id = latest.id if latest else None
        order = order_snapshot(await load_order(conn, store.id, order_id))
    else:
        first, last = SAMPLE_NAMES.get(locale, SAMPLE_NAMES["en"])
        customer = CustomerSnapshot(email="customer@example.com", first_name=first, last_name=last, locale=locale)
        order_id = None
        order = None
    if order is None:
        lines = await _sample_lines(conn, store)
        total = sum((line.total for line in lines), Decimal(0))
        order = OrderSnapshot(number="1001", currency=store.currency, placed_at=now - timedelta(days=3), lines=lines,
                              subtotal=total, shipping=Decimal(0), tax=Decimal(0), total=total)
    line = order.lines[0] if order.lines else None
    trigger: dict[str, Any] = {"properties": {"points": 120}}
    if line is not None:
        item = {"title": line.title, "quantity": line.quantity, "price": str(line.price), "variant": line.variant,
                "image_url": line.image_url, "url": line.url}
        trigger["checkout"] = {"id": "preview", "url": f"{base_url.rstrip('/')}/cart", "currency": order.currency,
                               "lines": [item]}
        trigger["product"] = {"id": "preview", "title": line.title, "url": line.url, "image_url": line.image_url,
                              "price": str(line.price), "currency": order.currency}
    extra = empty_extras(trigger)
    extra["params"] = dict(send.params)
    if send.coupon is not None:
        extra["coupon"] = {"code": generate_code(send.coupon.prefix or "SAMPLE"), "percent": send.coupon.percent,
                           "amount": send.coupon.amount,
                           "expires_at": now + (send.coupon.valid or timedelta(days=30))}
    if send.recommendations:
        picks = await recommend(conn, store.id, customer_id, order_id, send.recommendations)
        extra["recommendations"], extra["collection"] = picks.items, picks.collection
    marketing = send.category == "marketing"
    rules = MessageCompliance(
        marketing=marketing, promotions=marketing,
        unsubscribe_url=unsubscribe_url(base_url, store.slug, "preview") if marketing else None,
        preferences_url=preferences_url(base_url, store.slug, "preview") if marketing else None)
    available = renderer.locales_for(send.template, channel)
    if not available:
        raise PreviewError(f"{send.template!r} has no {channel.value} version")
    chosen = locale if locale in available else store.locale
    data: dict[str, Any] = dict(store=snapshot, customer=customer, order=order, shipment=order.shipment, extra=extra,
                                compliance=rules)
    message: Rendering
    if channel is ChannelKind.LINE:
        message = renderer.render_line(send.template, chosen, **data)
    elif channel is ChannelKind.SMS:
        message = preview_short_links(renderer.render_sms(send.template, chosen, **data), store, signer, base_url,
                                      await load_settings(conn, store))
    else:
        message = renderer.render(send.template, chosen, **data)
    return Preview(spec.id, n, send.template, send.category, chosen, customer_id is None, message, channel)


async def send_test(channel: Channel, store: StoreRow, base_url: str, preview: Preview, to: str,
                    now: datetime) -> str:
    """Send ``preview`` to ``to`` with ``[TEST]`` before the subject; returns the Message-ID."""
    snapshot = store.snapshot(base_url)
    rendered = replace(preview.email, subject=TEST_PREFIX + preview.email.subject)
    message_id = f"<ao.test.{uuid.uuid4().hex[:24]}@{snapshot.email_from.rsplit('@', 1)[-1]}>"
    data = build_email(snapshot, to=to, rendered=rendered, message_id=message_id, category="transactional",
                       date=now, extra_headers={"X-Afterorder-Test": f"{preview.flow}/{preview.step}"})
    await channel.send(OutgoingMessage(message_id, store.email_from, (to,), data))
    return message_id

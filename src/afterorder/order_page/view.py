"""What the order page shows, read from the database and written out for one locale and time zone.

``load_view`` reads one order of one store (None when there is none or the link's version is not
the order's: a revoked link) and makes an :class:`OrderView`: the status timeline (placed → paid →
shipped → out for delivery → delivered; times in the customer's time zone, else the store's), the
shipment (the carrier's name in the page's language, the tracking link from ``content.carriers``
when the shipment gives none), the items, the totals, the shipping address partly masked (the
street, building and name are cut to their first characters: a forwarded link does not give away
where someone lives), the store's support contact and the next useful actions.  ``status_json``
is the part the page's script polls: the timeline and the shipment, nothing personal.

"Out for delivery" is reached when the order has an ``out_for_delivery_at`` (the store or its
carrier sent ``order.out_for_delivery``), shown with that time; an order without one (a store that
never sends it) still reaches the step on the expected delivery day (in the customer's time zone)
of a shipped order, without a time, and with the delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, Final, TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.content.carriers import carrier_name, tracking_link
from afterorder.content.context import brand_colors
from afterorder.content.formatting import address_lines, format_day, format_money, zone
from afterorder.db.schema import customers, order_lines, orders
from afterorder.db.stores import StoreRow
from afterorder.order_page.delivery_note import SavedNote, closed_reason, current_note
from afterorder.order_page.links import OrderRef
from afterorder.order_page.text import order_text
from afterorder.promotions.recommendations import recommend

STEPS: Final = ("placed", "paid", "shipped", "out_for_delivery", "delivered")
PICKS: Final = 3
MASK: Final = "＊＊＊"


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    current: bool
    time: str  # "" when the time is not known


@dataclass(frozen=True)
class Item:
    title: str
    variant: str | None
    quantity: int
    amount: str
    image_url: str | None
    url: str | None


@dataclass(frozen=True)
class Pick:
    title: str
    price: str
    image_url: str
    url: str | None


@dataclass(frozen=True)
class Shipment:
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    expected: str


@dataclass(frozen=True)
class OrderView:
    locale: str
    store_name: str
    logo_url: str
    brand_color: str
    brand_text: str
    number: str
    status: str
    notice: str  # cancelled / refunded, else ""
    steps: tuple[Step, ...]
    shipment: Shipment
    items: tuple[Item, ...]
    totals: tuple[tuple[str, str], ...]  # (label, amount), the total last
    address: tuple[str, ...]
    support_email: str
    support_phone: str
    support_url: str
    review_url: str | None  # the first item's page: offered for a review once the order is delivered
    picks: tuple[Pick, ...]
    t: dict[str, str]
    note: SavedNote | None = None  # the customer's delivery note in force
    note_saved_at: str = ""
    note_closed: str | None = None  # why the note can no longer change (delivery_note.closed_reason)


class StepJson(TypedDict):
    key: str
    label: str
    done: bool
    current: bool
    time: str


class StatusJson(TypedDict):
    status: str
    notice: str
    steps: list[StepJson]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    expected: str
    note_closed: str  # why the delivery note can no longer change, in the page's words; "" while it can


def _time(value: datetime | None, locale: str, tz: tzinfo) -> str:
    if value is None:
        return ""
    local = value.astimezone(tz)
    return f"{format_day(local, locale, tz)} {local:%H:%M}"


def _masked(text: str, keep: int) -> str:
    text = text.strip()
    return text if len(text) <= keep else text[:keep] + MASK


def masked_address(address: dict[str, Any] | None, locale: str) -> tuple[str, ...]:
    """The shipping address as lines, with the street, building, company and name cut short and the
    postal code's last digits hidden."""
    if not address:
        return ()
    shown = {k: str(v) for k, v in address.items() if v is not None and k not in ("phone", "email")}
    if shown.get("postal_code"):
        code = shown["postal_code"]
        shown["postal_code"] = code[:3] + "".join("*" if ch.isalnum() else ch for ch in code[3:])
    for key, keep in (("line1", 2), ("line2", 0), ("company", 1), ("name", 1)):
        if shown.get(key):
            shown[key] = _masked(shown[key], keep) if keep else ""
    return tuple(address_lines(shown, locale))


def timeline(order: Any, expected: datetime | None, now: datetime, locale: str, tz: tzinfo,
             t: dict[str, str]) -> tuple[Step, ...]:
    """The five steps of ``order`` (its status and placed_at / paid_at / shipped_at /
    out_for_delivery_at / delivered_at): reached or not, the last reached one current, each with its
    time in ``tz`` when known."""
    out_at: datetime | None = order.out_for_delivery_at
    times: dict[str, datetime | None] = {
        "placed": order.placed_at, "paid": order.paid_at, "shipped": order.shipped_at,
        "out_for_delivery": out_at, "delivered": order.delivered_at,
    }
    delivered = order.delivered_at is not None or order.status == "delivered"
    shipped = order.shipped_at is not None or out_at is not None or order.status in ("shipped", "delivered")
    expected_today = expected is not None and expected.astimezone(tz).date() <= now.astimezone(tz).date()
    reached = {
        "placed": True,
        "paid": order.paid_at is not None or shipped or delivered or order.status == "paid",
        "shipped": shipped or delivered,
        "out_for_delivery": delivered or out_at is not None or (shipped and expected_today),
        "delivered": delivered,
    }
    last = max(i for i, key in enumerate(STEPS) if reached[key])
    return tuple(Step(key, t[f"step.{key}"], reached[key], i == last, _time(times[key], locale, tz))
                 for i, key in enumerate(STEPS))


async def load_view(conn: AsyncConnection, store: StoreRow, ref: OrderRef, locale_of: Any, now: datetime,
                    *, with_extras: bool = True) -> OrderView | None:
    """The page of the order ``ref`` names, or None (no such order of this store; a revoked link).
    ``locale_of(customer_locale)`` picks the page's locale; ``with_extras``: read the items, picks
    and address too (the status poll needs none of them)."""
    order = (await conn.execute(select(orders).where(
        orders.c.store_id == store.id, orders.c.id == ref.order_id))).first()
    if order is None or order.page_version != ref.version:
        return None
    customer = None
    if order.customer_id is not None:
        customer = (await conn.execute(select(customers.c.locale, customers.c.timezone).where(
            customers.c.store_id == store.id, customers.c.id == order.customer_id))).first()
    locale: str = locale_of(customer.locale if customer else None)
    tz = zone(customer.timezone if customer else None, store.timezone)
    t = order_text(locale, number=order.number)
    data: dict[str, Any] = order.shipment or {}
    eta_raw = data.get("estimated_delivery")
    expected = datetime.fromisoformat(eta_raw) if isinstance(eta_raw, str) else None
    shipment = Shipment(
        carrier=carrier_name(data.get("carrier"), locale), tracking_number=data.get("tracking_number"),
        tracking_url=tracking_link(data.get("carrier"), data.get("tracking_number"), data.get("tracking_url")),
        expected=format_day(expected, locale, tz) if expected else "")
    color, text_color = brand_colors(store.brand_color)
    notice = t[f"status.{order.status}"] if order.status in ("cancelled", "refunded") else ""
    items: tuple[Item, ...] = ()
    totals: tuple[tuple[str, str], ...] = ()
    picks: tuple[Pick, ...] = ()
    address: tuple[str, ...] = ()
    if with_extras:
        rows = (await conn.execute(select(order_lines).where(
            order_lines.c.store_id == store.id, order_lines.c.order_id == order.id)
            .order_by(order_lines.c.position))).all()
        items = tuple(Item(r.title, r.variant, r.quantity, format_money(Decimal(r.price) * r.quantity,
                                                                          order.currency, locale),
                           r.image_url, r.url) for r in rows)
        totals = tuple((t[key], format_money(value if key != "discount" else -value, order.currency, locale))
                       for key in ("subtotal", "shipping", "tax", "discount", "total")
                       if (value := getattr(order, key)) is not None and (key != "discount" or value))
        address = masked_address(order.shipping_address, locale)
        found = await recommend(conn, store.id, order.customer_id, order.id, PICKS)
        picks = tuple(Pick(p["title"], format_money(p["price"], p["currency"], locale) if p["price"] is not None
                           else "", p["image_url"], p["url"]) for p in found.items[:PICKS])
    steps = timeline(order, expected, now, locale, tz, t)
    note = await current_note(conn, store.id, order.id) if with_extras else None
    return OrderView(
        locale=locale, store_name=store.name, logo_url=store.logo_url, brand_color=color, brand_text=text_color,
        number=order.number, status=order.status, notice=notice,
        steps=steps, shipment=shipment, items=items, totals=totals,
        address=address, support_email=store.support_email, support_phone=store.support_phone,
        support_url=store.support_url,
        review_url=next((i.url for i in items if i.url), None), picks=picks, t=t,
        note=note, note_saved_at=_time(note.saved_at, locale, tz) if note else "",
        note_closed=closed_reason(order.status, any(s.done for s in steps if s.key == "out_for_delivery")))


def status_json(view: OrderView) -> StatusJson:
    """What the page's script polls: the timeline, the shipment, whether the note's form stays."""
    return StatusJson(
        status=view.status, notice=view.notice,
        steps=[StepJson(key=s.key, label=s.label, done=s.done, current=s.current, time=s.time) for s in view.steps],
        carrier=view.shipment.carrier, tracking_number=view.shipment.tracking_number,
        tracking_url=view.shipment.tracking_url, expected=view.shipment.expected,
        note_closed=view.t[f"note.closed.{view.note_closed}"] if view.note_closed else "")

"""The AMP for Email part (``text/x-amp-html``) of the shipping mails: the order's status, live.

Which messages (``AMP_TEMPLATES``): the shipping confirmation, the "still on its way" mail of
international orders and the out-for-delivery notice.  ``amp_part`` gives a document only when
all of these hold (``amp_part``), else None and the mail is plain text and HTML as before:

* the store has AMP on (``afterorder channels amp STORE on|off``; on unless turned off);
* the message links to the customer's order page (``order_url``) and that link is ``https``: AMP
  for Email loads data from https addresses only.

The document is a whole mail in the message's locale (ja, zh-Hans, en; another locale gets
English), since a client that shows AMP shows only this part: the store's name (its logo when
that is https), a heading for the message, the greeting, the **live status block**, the carrier,
tracking number and tracking link, the items, the link to the order page and the store's contact.  The status block
is an ``amp-list`` that loads ``{order page}/amp.json`` each time the mail is opened
(``web/order_page_amp.py`` answers it with the AMP for Email CORS headers) and shows the five
steps, the expected delivery day and a cancelled / refunded notice through an ``amp-mustache``
template; until it loads, or if it cannot, the status as it was when the mail was sent shows.

Valid AMP4EMAIL as the official validator (``amphtml-validator --html_format AMP4EMAIL``) sees it:
``tests/integration/test_amp_email.py`` runs it on composed mails in every locale.  The HTML part
is not touched: a client without AMP shows the same bytes it showed before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from afterorder.content.carriers import carrier_name, tracking_link
from afterorder.content.context import brand_colors
from afterorder.content.formatting import format_day, format_money, zone
from afterorder.content.greeting import greeting
from afterorder.content.i18n import layout_text, localized
from afterorder.content.render import BUILTIN_TEMPLATES
from afterorder.domain import CustomerSnapshot, OrderSnapshot, ShipmentSnapshot, StoreSnapshot
from afterorder.order_page.text import order_text
from afterorder.order_page.view import STEPS

AMP_TEMPLATES: Final = frozenset({"shipping-confirmation", "international-in-transit", "out-for-delivery"})
STATUS_PATH: Final = "/amp.json"  # after the order page's address
_LAYOUT: Final = BUILTIN_TEMPLATES / "_layout"  # amp.html, beside the mail layouts
# how far along each order status is, in STEPS (cancelled / refunded orders show their notice instead)
_REACHED: Final = {"placed": 0, "paid": 1, "shipped": 2, "delivered": 4}

_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "shipping-confirmation": "Your order is on its way",
        "international-in-transit": "Your order is still on its way",
        "out-for-delivery": "Your order arrives today",
        "live": "This status is the latest each time you open this email.",
        "loading": "Status when this email was sent",
    },
    "ja": {
        "shipping-confirmation": "ご注文の商品を発送いたしました",
        "international-in-transit": "ご注文の商品は配送中です",
        "out-for-delivery": "本日お届け予定です",
        "live": "このメールを開くたびに、最新の配送状況を表示します。",
        "loading": "このメールの送信時点の状況",
    },
    "zh-Hans": {
        "shipping-confirmation": "您的订单已发货",
        "international-in-transit": "您的订单仍在运送途中",
        "out-for-delivery": "您的订单今天送达",
        "live": "每次打开此邮件，都会显示最新的配送状态。",
        "loading": "此邮件发送时的状态",
    },
}


@dataclass(frozen=True)
class AmpStep:
    label: str
    done: bool
    current: bool


@dataclass(frozen=True)
class AmpItem:
    title: str
    variant: str | None
    quantity: int
    amount: str
    image_url: str | None  # https only


@dataclass(frozen=True)
class AmpDocument:
    """Everything the AMP layout shows, already in the message's locale (the template only lays it out)."""

    locale: str
    store_name: str
    logo_url: str | None  # https only
    brand_color: str
    brand_text: str
    heading: str
    greeting: str
    status_url: str
    steps: tuple[AmpStep, ...]  # the status when sent: the live block's fallback
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    expected: str
    items: tuple[AmpItem, ...]
    order_url: str
    number: str
    support_email: str
    support_phone: str
    postal_address: tuple[str, ...]
    text: dict[str, str]


def _https(url: str | None) -> str | None:
    return url if url and url.startswith("https://") else None


def _steps(template: str, order: OrderSnapshot, labels: dict[str, str]) -> tuple[AmpStep, ...]:
    last = _REACHED.get(order.status, 2 if order.shipment else 0)
    if template == "out-for-delivery" and last == _REACHED["shipped"]:
        last += 1  # the notice is sent because the parcel is out for delivery
    return tuple(AmpStep(labels[f"step.{key}"], i <= last, i == last) for i, key in enumerate(STEPS))


def amp_document(template: str, locale: str, *, store: StoreSnapshot, customer: CustomerSnapshot | None,
                 order: OrderSnapshot, shipment: ShipmentSnapshot | None, order_url: str) -> AmpDocument:
    """What the AMP part of ``template`` shows for this order, in ``locale``."""
    page = order_text(locale, number=order.number)
    layout = layout_text(locale, store.name)
    words = localized(_TEXT, locale)
    color, text_color = brand_colors(store.brand_color)
    tz = zone(customer.timezone if customer else None, store.timezone)
    sent = shipment or order.shipment or ShipmentSnapshot()
    items = tuple(AmpItem(line.title, line.variant, line.quantity, format_money(line.total, order.currency, locale),
                          _https(line.image_url)) for line in order.lines)
    return AmpDocument(
        locale=locale, store_name=store.name, logo_url=_https(store.logo_url), brand_color=color,
        brand_text=text_color, heading=words.get(template, words["shipping-confirmation"]),
        greeting=greeting(locale, customer), status_url=order_url.rstrip("/") + STATUS_PATH,
        steps=_steps(template, order, page), carrier=carrier_name(sent.carrier, locale),
        tracking_number=sent.tracking_number,
        tracking_url=_https(tracking_link(sent.carrier, sent.tracking_number, sent.tracking_url)),
        expected=format_day(sent.estimated_delivery, locale, tz) if sent.estimated_delivery else "",
        items=items, order_url=order_url, number=order.number,
        support_email=store.support_email or store.reply_to, support_phone=store.support_phone,
        postal_address=tuple(store.postal_address.splitlines()),
        text={**page, **words, **{k: layout[k] for k in ("order_page", "font", "help", "email", "phone", "notice")}})


@cache
def _layout() -> Template:
    """``_layout/amp.html``, compiled once: our own file, never one a store edits (AMP must stay valid)."""
    env = Environment(loader=FileSystemLoader(_LAYOUT), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("amp.html")


def render_amp(document: AmpDocument) -> str:
    return _layout().render(d=document, t=document.text)


def amp_part(template: str, locale: str, *, enabled: bool, store: StoreSnapshot, customer: CustomerSnapshot | None,
             order: OrderSnapshot | None, order_url: object) -> str | None:
    """The AMP document of this message, or None when it carries none (see the module's rules)."""
    if (not enabled or template not in AMP_TEMPLATES or order is None or not isinstance(order_url, str)
            or _https(order_url) is None):
        return None
    return render_amp(amp_document(template, locale, store=store, customer=customer, order=order,
                                   shipment=order.shipment, order_url=order_url))

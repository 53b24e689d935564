"""What every template sees, whatever its channel: the snapshots, the locale's manners and the rules
the message is written under (``message_context``).

A flow's send step may add variables of its own (``extra``: the trigger event, a coupon,
recommendations, the library's how-to / NPS / review data); they may not replace the ones below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final

from afterorder.compliance.footer import legal_text
from afterorder.compliance.message import MessageCompliance
from afterorder.content.carriers import carrier_name
from afterorder.content.formatting import zone
from afterorder.content.greeting import greeting
from afterorder.content.i18n import layout_text
from afterorder.domain import CustomerSnapshot, OrderSnapshot, ShipmentSnapshot, StoreSnapshot

_HEX_COLOR: Final = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
_DEFAULT_BRAND: Final = "#1f6feb"
RESERVED: Final = frozenset(
    {"store", "customer", "order", "shipment", "links", "locale", "timezone", "greeting", "t",
     "brand_color", "brand_text", "subject", "marketing", "promotions", "unsubscribe_url", "preferences_url",
     "legal"}
)
# Variables a flow's send step may add (afterorder.flows.extras); empty unless given, so every
# template renders whether or not its step asked for them.
FLOW_EXTRAS: Final[Mapping[str, Any]] = MappingProxyType({
    "trigger": MappingProxyType({}), "coupon": None, "recommendations": (), "collection": (),
    "params": MappingProxyType({}),
    # a transactional mail of a store on LINE, to a customer it cannot reach there: "Get updates on LINE"
    "line_link": None,
    # the customer's order page (afterorder.order_page), for a message about an order; also given as
    # links["order_status"] unless the caller names one
    "order_url": None,
})
NO_COMPLIANCE: Final = MessageCompliance()


def brand_colors(color: str) -> tuple[str, str]:
    """A safe brand colour for style attributes, and a readable text colour on top of it."""
    color = color.strip() if _HEX_COLOR.fullmatch(color.strip()) else _DEFAULT_BRAND
    digits = color[1:] if len(color) == 7 else "".join(c * 2 for c in color[1:])
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return color, "#111111" if luminance > 0.6 else "#ffffff"


def _in_locale(shipment: ShipmentSnapshot | None, locale: str) -> ShipmentSnapshot | None:
    """The shipment with a known carrier's name in ``locale`` (ヤマト運輸, 顺丰速运, ...; content.carriers)."""
    if shipment is None or not shipment.carrier:
        return shipment
    return replace(shipment, carrier=carrier_name(shipment.carrier, locale))


def _with_order_page(links: Mapping[str, str] | None, order_url: object) -> dict[str, str]:
    found = dict(links or {})
    if isinstance(order_url, str) and order_url:
        found.setdefault("order_status", order_url)
    return found


def message_context(
    locale: str,
    store: StoreSnapshot,
    customer: CustomerSnapshot | None,
    order: OrderSnapshot | None,
    shipment: ShipmentSnapshot | None,
    links: Mapping[str, str] | None,
    extra: Mapping[str, object] | None,
    compliance: MessageCompliance | None,
) -> dict[str, Any]:
    """The variables of one message in ``locale``; ``ValueError`` when ``extra`` names a reserved one."""
    clashes = RESERVED.intersection(extra or {})
    if clashes:
        raise ValueError(f"extra may not override {', '.join(sorted(clashes))}")
    brand_color, brand_text = brand_colors(store.brand_color)
    tz = zone(customer.timezone if customer else None, store.timezone)
    rules = compliance or NO_COMPLIANCE
    return {
        **FLOW_EXTRAS,
        **(extra or {}),
        "store": store,
        "customer": customer,
        "order": order,
        "shipment": _in_locale(shipment or (order.shipment if order else None), locale),
        "links": _with_order_page(links, (extra or {}).get("order_url")),
        "locale": locale,
        "timezone": str(tz),
        "greeting": greeting(locale, customer),
        "t": layout_text(locale, store.name),
        "brand_color": brand_color,
        "brand_text": brand_text,
        "marketing": rules.marketing,
        "promotions": rules.promotions,
        "unsubscribe_url": rules.unsubscribe_url,
        "preferences_url": rules.preferences_url,
        "legal": legal_text(locale, store.name),
    }

"""Sample data a message is rendered with when there is no real customer: the dashboard's previews,
the check of a draft before it is saved, and the check of a LINE or SMS file when it loads.

``sample_extra`` holds every variable a built-in message reads beyond store / customer / order (the
trigger event, a coupon, recommendations, the flow library's how-to, NPS, survey, review, UGC and
replenishment data), in the reader's language, so every built-in message renders from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from afterorder.compliance.message import MessageCompliance
from afterorder.domain import CustomerSnapshot, LineSnapshot, OrderSnapshot, ShipmentSnapshot, StoreSnapshot

PLACED: Final = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)
SAMPLE_LINKS: Final = {"order_status": "https://example.com/orders/1001", "shop": "https://example.com/",
                       "review": "https://example.com/review/1001", "confirm": "https://example.com/confirm"}
SAMPLE_MARKETING: Final = MessageCompliance(marketing=True, promotions=True,
                                            unsubscribe_url="https://example.com/u/sample",
                                            preferences_url="https://example.com/p/sample")
_NAMES: Final = {"ja": ("花子", "山田"), "zh-Hans": ("小明", "王")}
_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {"tip": "Caring for your linen", "tip_body": "Wash it cold and dry it flat.", "question": "Favourite colour",
           "incentive": "Tagged posts win a gift card each month.", "comment": "The box arrived crushed."},
    "ja": {"tip": "リネンのお手入れ", "tip_body": "水洗いのあと、平干しで乾かしてください。", "question": "お好きな色",
           "incentive": "毎月、投稿の中からギフトカードをプレゼント。", "comment": "箱が潰れていました。"},
    "zh-Hans": {"tip": "亚麻衣物的保养", "tip_body": "请冷水洗涤，平铺晾干。", "question": "喜欢的颜色",
                "incentive": "每月从带话题的帖子中抽取礼品卡。", "comment": "箱子被压坏了。"},
}
_LINES: Final = (
    LineSnapshot("Linen shirt", 2, Decimal("4500"), variant="M", sku="SHIRT-M", category="apparel",
                 image_url="https://example.com/images/linen-shirt.jpg", url="https://example.com/p/linen-shirt"),
    LineSnapshot("Canvas tote", 1, Decimal("1800"), sku="TOTE", category="bags",
                 image_url="https://example.com/images/canvas-tote.jpg", url="https://example.com/p/canvas-tote"),
)


def sample_customer(locale: str) -> CustomerSnapshot:
    first, last = _NAMES.get(locale, ("Alex", "Sample"))
    return CustomerSnapshot(email="sample@example.com", first_name=first, last_name=last, locale=locale,
                            accepts_marketing=True)


def sample_order(store: StoreSnapshot) -> OrderSnapshot:
    subtotal = sum((line.total for line in _LINES), Decimal(0))
    return OrderSnapshot(number="1001", currency=store.currency, placed_at=PLACED, lines=_LINES, subtotal=subtotal,
                         shipping=Decimal("500"), tax=Decimal("0"), total=subtotal + Decimal("500"),
                         shipping_address={"name": "Sample", "city": "Tokyo", "country": "JP"},
                         shipment=ShipmentSnapshot(carrier="Yamato", tracking_number="1234-5678-9012",
                                                   tracking_url="https://example.com/track/1234",
                                                   estimated_delivery=PLACED + timedelta(days=3)))


def _product(line: LineSnapshot, currency: str) -> dict[str, Any]:
    return {"product_id": line.sku, "title": line.title, "price": line.price, "currency": currency,
            "image_url": line.image_url, "url": line.url, "category": line.category, "quantity": line.quantity,
            "variant": line.variant}


def sample_extra(locale: str, store: StoreSnapshot) -> dict[str, object]:
    """Every variable the built-in messages read beyond store / customer / order, with sample values."""
    text = _TEXT.get(locale, _TEXT["en"])
    base = f"{store.base_url.rstrip('/')}/s/{store.slug}"
    products = [_product(line, store.currency) for line in _LINES]
    return {
        "trigger": {"checkout": {"id": "sample", "url": "https://example.com/cart", "currency": store.currency,
                                 "lines": [{**p, "price": str(p["price"])} for p in products]},
                    "product": {**products[0], "id": "sample", "price": str(products[0]["price"])},
                    "properties": {"points": 120}},
        "coupon": {"code": "SAMPLE-7KX9", "percent": 10, "amount": None, "expires_at": PLACED + timedelta(days=30)},
        "recommendations": products, "collection": products[1:], "params": {},
        "stats": {"order_count": 2, "is_first_time": False, "is_repeat": True},
        "ships_abroad": False,
        "expected_ship_date": PLACED + timedelta(days=21),
        "how_to": {"part": 1, "parts": 3, "blocks": [
            {"title": text["tip"], "body": text["tip_body"], "url": "https://example.com/care/linen",
             "image_url": "https://example.com/images/care.jpg", "category": "apparel"}]},
        "nps": {"links": [(score, f"{base}/nps/sample/{score}") for score in range(11)], "url": f"{base}/nps/sample",
                "referral_url": "https://example.com/refer", "review_url": "https://example.com/reviews", "score": 9},
        "survey": {"url": f"{base}/profile/sample", "questions": [text["question"]]},
        "reviews": [{"title": p["title"], "variant": p["variant"], "image_url": p["image_url"],
                     "url": f"{p['url']}#reviews"} for p in products],
        "ugc": {"platform": "Instagram", "hashtag": "#sample", "url": "https://instagram.com/",
                "incentive": text["incentive"]},
        "replenish": {"lines": products[1:], "days": 30.0},
        "score": 3, "comment": text["comment"], "customer_email": "sample@example.com",
        "order_url": f"{store.base_url.rstrip('/')}/o/{store.slug}/sample",
    }

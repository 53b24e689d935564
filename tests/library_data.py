"""Realistic data for the flow library's templates (how-to, NPS, reviews, ...): the store content, an order
as the scheduler sees it, and the extra context ``flows.followups.message_extra`` gives each template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from afterorder.content.store_content import StoreContent, validate
from afterorder.db.stores import StoreRow
from afterorder.flows.followups import message_extra
from afterorder.signing import Signer, new_signing_key

LIBRARY_TEMPLATES = ("how-to", "how-to-part-2", "how-to-part-3", "replenishment", "nps", "nps-promoter",
                     "nps-detractor", "nps-store-alert", "profile-survey", "review-request", "ugc-request",
                     "international-in-transit", "made-to-order", "made-to-order-progress")

PLACED = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
STORE = StoreRow(id=1, slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="help@kumo.example",
                 country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY", postal_address="京都市中京区1-2",
                 support_email="help@kumo.example", support_phone="075-123-4567", support_url="https://kumo.example/help",
                 brand_color="#2d6a4f", logo_url="", api_key_prefix="ao_x", signing_key=new_signing_key(),
                 created_at=PLACED)
CONTENT = StoreContent({
    "how-to": validate("how-to", {"categories": {"teaware": [
        {"title": {"en": "Seasoning your teapot", "ja": "急須の慣らし方", "zh-Hans": "茶壶开壶方法"},
         "body": {"en": "Rinse it with hot water before the first use.", "ja": "初回はお湯で内側をすすいでください。",
                  "zh-Hans": "首次使用前请用热水冲洗内部。"},
         "url": "https://kumo.example/care/kyusu", "image_url": "https://cdn.example/care.jpg"},
        {"title": {"en": "Daily care", "ja": "日々のお手入れ", "zh-Hans": "日常保养"},
         "body": {"en": "Dry it upside down.", "ja": "逆さにして乾かしてください。", "zh-Hans": "倒置晾干。"}},
        {"title": {"en": "Removing tea stains", "ja": "茶渋の落とし方", "zh-Hans": "去除茶垢"},
         "body": {"en": "Use baking soda once a month.", "ja": "月に一度、重曹でお手入れを。",
                  "zh-Hans": "每月用小苏打清洁一次。"}}]}}),
    "profile-survey": validate("profile-survey", {"questions": [
        {"key": "tea", "label": {"en": "Favourite tea", "ja": "お好きなお茶", "zh-Hans": "喜欢的茶"},
         "options": [{"value": "sencha", "label": {"en": "Sencha", "ja": "煎茶", "zh-Hans": "煎茶"}}]}]}),
    "nps": validate("nps", {"review_url": "https://kumo.example/reviews", "referral_url": "https://kumo.example/r"}),
    "ugc": validate("ugc", {"platform": "Instagram", "hashtag": "#kumotea", "url": "https://instagram.com/kumo",
                            "incentive": {"en": "Tagged posts win a tea set each month.",
                                          "ja": "毎月、投稿の中から茶器セットをプレゼント。",
                                          "zh-Hans": "每月从带话题的帖子中抽取一套茶具。"}}),
})
ORDER: dict[str, Any] = {
    "number": "#1001", "currency": "JPY", "placed_at": PLACED, "status": "shipped", "subtotal": Decimal(15000),
    "total": Decimal(15000), "shipping_address": {"name": "Emma Smith", "city": "Berlin", "country": "DE"},
    "shipment": {"carrier": "EMS", "tracking_number": "EE123456789JP", "tracking_url": "https://track.example/EE1"},
    "lines": [{"title": "京焼 急須", "quantity": 1, "price": Decimal(12000), "product_id": "kyusu", "sku": "K-1",
               "image_url": "https://cdn.example/kyusu.jpg", "url": "https://kumo.example/p/kyusu",
               "category": "teaware", "variant": "白"},
              {"title": "玉露 100g", "quantity": 1, "price": Decimal(3000), "product_id": "gyokuro", "sku": "G-1",
               "image_url": "https://cdn.example/gyokuro.jpg", "url": "https://kumo.example/p/gyokuro",
               "category": "tea", "variant": None}],
    "categories": ["tea", "teaware"], "how_to_parts": 3, "replenish_days": 30.0, "replenish_items": ["gyokuro"],
    "expected_ship_date": PLACED + timedelta(days=42), "nps_score": 10, "ships_abroad": True,
}
CUSTOMERS = {
    "en": {"email": "emma@example.com", "first_name": "Emma", "last_name": "Smith", "locale": "en"},
    "ja": {"email": "taro@example.jp", "first_name": "太郎", "last_name": "山田", "locale": "ja"},
    "zh-Hans": {"email": "li@example.cn", "first_name": "小龙", "last_name": "李", "locale": "zh-Hans"},
}


def library_extra(template: str, locale: str, *, order_count: int = 3) -> dict[str, object]:
    """What the scheduler gives ``template`` beyond store / customer / order."""
    if template == "nps-store-alert":
        return {"score": 3, "comment": "箱が潰れていました", "customer_email": "taro@example.jp"}
    return message_extra(STORE, Signer(STORE.signing_key), "https://ao.kumo.example", CONTENT,
                         {"customer_id": 7, "order_id": 11}, ORDER, {"order_count": order_count}, template)(locale)

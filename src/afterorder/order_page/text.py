"""The order page's words in ja, zh-Hans and en."""

from __future__ import annotations

from typing import Final

from afterorder.content.i18n import localized

_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Order {number}",
        "heading": "Your order",
        "order_number": "Order number",
        "step.placed": "Order placed", "step.paid": "Payment confirmed", "step.shipped": "Shipped",
        "step.out_for_delivery": "Out for delivery", "step.delivered": "Delivered",
        "status.cancelled": "This order was cancelled.", "status.refunded": "This order was refunded.",
        "expected": "Expected delivery", "carrier": "Carrier", "tracking_number": "Tracking number",
        "track": "Track your parcel", "items_title": "Items", "colon": ": ", "quantity": "Qty", "subtotal": "Subtotal",
        "shipping": "Shipping", "tax": "Tax", "discount": "Discount", "total": "Total",
        "ship_to": "Shipping address", "support": "Questions about your order?", "email": "Email",
        "phone": "Phone", "help_center": "Help centre", "next": "What's next",
        "reorder": "Buy again", "review": "Write a review", "picks": "You may also like",
        "updated": "Updated {time}", "live": "This page updates by itself.",
        "gone_title": "This link is not available",
        "gone": "This order link is not valid or is no longer active. Please use the newest link in the "
                "message from the store, or contact the store.",
    },
    "ja": {
        "title": "ご注文 {number}",
        "heading": "ご注文の状況",
        "order_number": "ご注文番号",
        "step.placed": "ご注文受付", "step.paid": "お支払い確認", "step.shipped": "発送済み",
        "step.out_for_delivery": "配達中", "step.delivered": "お届け完了",
        "status.cancelled": "このご注文はキャンセルされました。", "status.refunded": "このご注文は返金済みです。",
        "expected": "お届け予定日", "carrier": "配送業者", "tracking_number": "お問い合わせ番号",
        "track": "配送状況を確認する", "items_title": "ご注文の商品", "colon": "：",
        "quantity": "数量", "subtotal": "小計",
        "shipping": "送料", "tax": "消費税", "discount": "割引", "total": "合計",
        "ship_to": "お届け先", "support": "ご注文に関するお問い合わせ", "email": "メール",
        "phone": "電話", "help_center": "ヘルプセンター", "next": "次のおすすめ",
        "reorder": "もう一度購入する", "review": "レビューを書く", "picks": "こちらもおすすめ",
        "updated": "{time} 更新", "live": "このページは自動で更新されます。",
        "gone_title": "このリンクはご利用いただけません",
        "gone": "このご注文ページのリンクは無効か、有効期限が切れています。ショップからのメッセージに記載の"
                "最新のリンクをご利用いただくか、ショップまでお問い合わせください。",
    },
    "zh-Hans": {
        "title": "订单 {number}",
        "heading": "订单状态",
        "order_number": "订单号",
        "step.placed": "已下单", "step.paid": "已付款", "step.shipped": "已发货",
        "step.out_for_delivery": "派送中", "step.delivered": "已签收",
        "status.cancelled": "此订单已取消。", "status.refunded": "此订单已退款。",
        "expected": "预计送达", "carrier": "快递公司", "tracking_number": "运单号",
        "track": "查看物流", "items_title": "商品", "colon": "：", "quantity": "数量", "subtotal": "小计",
        "shipping": "运费", "tax": "税费", "discount": "优惠", "total": "合计",
        "ship_to": "收货地址", "support": "对订单有疑问？", "email": "邮箱",
        "phone": "电话", "help_center": "帮助中心", "next": "接下来",
        "reorder": "再次购买", "review": "写评价", "picks": "为您推荐",
        "updated": "{time} 更新", "live": "本页面会自动更新。",
        "gone_title": "此链接无法使用",
        "gone": "此订单链接无效或已失效。请使用店铺消息中的最新链接，或联系店铺。",
    },
}


def order_text(locale: str, **values: str) -> dict[str, str]:
    return localized(_TEXT, locale, **values)

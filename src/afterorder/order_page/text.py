"""The order page's words in ja, zh-Hans and en (the delivery note's in ``_NOTE``, merged in)."""

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

# The delivery note's form (``order_page.delivery_note``): the choices, the carriers' time windows,
# why it is closed, why a post was refused.
_NOTE: Final[dict[str, dict[str, str]]] = {
    "en": {
        "note.title": "Delivery instructions",
        "note.intro": "Tell us how you would like to receive your parcel. You can change this until it is out "
                      "for delivery.",
        "note.choice": "Where to leave it", "note.choice.door": "Leave it at the door",
        "note.choice.hand": "Hand it to me", "note.choice.concierge": "Leave it with the concierge or a neighbour",
        "note.choice.box": "Put it in the delivery box",
        "note.window": "Preferred time", "note.window.any": "Any time", "note.window.am": "Morning (until 12:00)",
        "note.window.14-16": "14:00–16:00", "note.window.16-18": "16:00–18:00", "note.window.18-20": "18:00–20:00",
        "note.window.19-21": "19:00–21:00",
        "note.text": "A note for the driver (optional)", "note.limit": "Up to {max} characters",
        "note.save": "Save instructions", "note.saved": "Your instructions were saved.",
        "note.current": "Your instructions", "note.saved_at": "saved {time}",
        "note.closed.out_for_delivery": "Your parcel is out for delivery: the instructions can no longer change.",
        "note.closed.delivered": "This order has been delivered.",
        "note.closed.cancelled": "This order was cancelled.", "note.closed.refunded": "This order was refunded.",
        "note.refused": "Your instructions were not saved",
        "note.bad.choice": "Please choose where to leave the parcel.",
        "note.bad.window": "Please choose one of the time windows.",
        "note.bad.text": "Please keep the note to {max} characters, without special characters.",
        "note.bad.form": "This form has expired or was not sent from your order page. Please open the page "
                         "again and send it from there.",
        "note.back": "Back to your order",
    },
    "ja": {
        "note.title": "お届けについてのご要望",
        "note.intro": "お受け取り方法と希望時間帯をお知らせください。配達が始まるまで変更できます。",
        "note.choice": "お受け取り方法", "note.choice.door": "玄関前に置き配",
        "note.choice.hand": "手渡しで受け取る", "note.choice.concierge": "管理人・近所の方に預ける",
        "note.choice.box": "宅配ボックスに入れる",
        "note.window": "希望時間帯", "note.window.any": "指定なし", "note.window.am": "午前中",
        "note.window.14-16": "14時〜16時", "note.window.16-18": "16時〜18時", "note.window.18-20": "18時〜20時",
        "note.window.19-21": "19時〜21時",
        "note.text": "配達員へのメモ（任意）", "note.limit": "{max}文字まで",
        "note.save": "ご要望を保存する", "note.saved": "ご要望を保存しました。",
        "note.current": "ご指定の内容", "note.saved_at": "{time} 保存",
        "note.closed.out_for_delivery": "配達中のため、ご要望は変更できません。",
        "note.closed.delivered": "このご注文はお届け済みです。",
        "note.closed.cancelled": "このご注文はキャンセルされました。",
        "note.closed.refunded": "このご注文は返金済みです。",
        "note.refused": "ご要望を保存できませんでした",
        "note.bad.choice": "お受け取り方法をお選びください。",
        "note.bad.window": "希望時間帯をお選びください。",
        "note.bad.text": "メモは{max}文字以内で、特殊な文字を含めずにご入力ください。",
        "note.bad.form": "このフォームは有効期限が切れているか、ご注文ページから送信されていません。"
                         "ご注文ページを開き直してから送信してください。",
        "note.back": "ご注文ページに戻る",
    },
    "zh-Hans": {
        "note.title": "配送备注",
        "note.intro": "请告诉我们您希望如何收货。派送开始前可随时修改。",
        "note.choice": "投递方式", "note.choice.door": "放在门口",
        "note.choice.hand": "当面签收", "note.choice.concierge": "交给物业或邻居",
        "note.choice.box": "放入快递柜",
        "note.window": "期望时段", "note.window.any": "不限", "note.window.am": "上午",
        "note.window.14-16": "14:00–16:00", "note.window.16-18": "16:00–18:00", "note.window.18-20": "18:00–20:00",
        "note.window.19-21": "19:00–21:00",
        "note.text": "给快递员的留言（选填）", "note.limit": "最多 {max} 字",
        "note.save": "保存备注", "note.saved": "备注已保存。",
        "note.current": "您的备注", "note.saved_at": "{time} 保存",
        "note.closed.out_for_delivery": "包裹正在派送，备注已无法修改。",
        "note.closed.delivered": "此订单已签收。",
        "note.closed.cancelled": "此订单已取消。", "note.closed.refunded": "此订单已退款。",
        "note.refused": "备注未保存",
        "note.bad.choice": "请选择投递方式。",
        "note.bad.window": "请选择期望时段。",
        "note.bad.text": "留言请勿超过 {max} 字，且不要包含特殊字符。",
        "note.bad.form": "此表单已过期，或并非从您的订单页面提交。请重新打开订单页面后再提交。",
        "note.back": "返回订单",
    },
}
for _locale, _words in _NOTE.items():
    _TEXT[_locale].update(_words)


def order_text(locale: str, **values: str) -> dict[str, str]:
    return localized(_TEXT, locale, **values)

"""The public pages' words, in the locales the built-in mail is written in."""

from __future__ import annotations

from typing import Final

from afterorder.content.i18n import first_locale, localized

PAGE_LOCALES: Final = ("en", "ja", "zh-Hans")

_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_ask": "Stop marketing emails from {store} to {email}?",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed": "You're unsubscribed. {store} will not send you marketing emails any more. "
                        "You'll still get messages about your orders.",
        "preferences_link": "Choose what you receive instead",
        "preferences_title": "Email preferences",
        "preferences_intro": "Choose how {store} may contact you with news and offers.",
        "channels": "Channels",
        "topics": "Topics",
        "channel.email": "Email",
        "channel.sms": "Text messages (SMS)",
        "topic.new-products": "New products",
        "topic.offers": "Offers and coupons",
        "topic.reviews": "Review requests",
        "save": "Save preferences",
        "saved": "Your preferences are saved.",
        "confirm_title": "Confirm your subscription",
        "confirm_ask": "Yes, I want to receive news and offers from {store} at {email}.",
        "confirm_button": "Confirm subscription",
        "confirmed": "Thank you! Your subscription to {store} is confirmed.",
        "bad_link": "This link is not valid. It may have been copied incompletely; please use the link from "
                    "the email as it is.",
        "expired_form": "This form has expired. Please open the page again from the link in the email.",
        "bad_request": "The request could not be understood: {reason}",
    },
    "ja": {
        "unsubscribe_title": "配信停止",
        "unsubscribe_ask": "{email} 宛ての{store}からのお知らせメールの配信を停止しますか？",
        "unsubscribe_button": "配信を停止する",
        "unsubscribed": "配信停止の手続きが完了しました。今後、{store}からのお知らせメールは送信されません。"
                        "ご注文に関するご連絡は引き続きお送りします。",
        "preferences_link": "受け取る内容を選ぶ",
        "preferences_title": "配信設定",
        "preferences_intro": "{store}からのお知らせの受け取り方法を選択してください。",
        "channels": "受信方法",
        "topics": "内容",
        "channel.email": "メール",
        "channel.sms": "SMS（ショートメッセージ）",
        "topic.new-products": "新商品のお知らせ",
        "topic.offers": "キャンペーン・クーポン",
        "topic.reviews": "レビューのお願い",
        "save": "設定を保存する",
        "saved": "配信設定を保存しました。",
        "confirm_title": "配信登録のご確認",
        "confirm_ask": "{email} 宛てに{store}からのお知らせを受け取ります。",
        "confirm_button": "配信登録を確定する",
        "confirmed": "ありがとうございます。{store}からのお知らせの配信登録が完了しました。",
        "bad_link": "このリンクは無効です。メールに記載のリンクをそのままご利用ください。",
        "expired_form": "このフォームの有効期限が切れています。メールのリンクからもう一度開いてください。",
        "bad_request": "リクエストを処理できませんでした：{reason}",
    },
    "zh-Hans": {
        "unsubscribe_title": "退订",
        "unsubscribe_ask": "确定不再向 {email} 发送{store}的营销邮件吗？",
        "unsubscribe_button": "退订",
        "unsubscribed": "您已成功退订，{store}将不再向您发送营销邮件。与订单相关的通知仍会照常发送。",
        "preferences_link": "改为选择接收的内容",
        "preferences_title": "邮件订阅设置",
        "preferences_intro": "请选择{store}向您发送资讯与优惠的方式。",
        "channels": "接收方式",
        "topics": "内容",
        "channel.email": "邮件",
        "channel.sms": "短信",
        "topic.new-products": "新品上架",
        "topic.offers": "优惠活动与优惠券",
        "topic.reviews": "评价邀请",
        "save": "保存设置",
        "saved": "您的设置已保存。",
        "confirm_title": "确认订阅",
        "confirm_ask": "是的，我希望通过 {email} 接收{store}的资讯与优惠。",
        "confirm_button": "确认订阅",
        "confirmed": "感谢您！已确认订阅{store}的资讯。",
        "bad_link": "此链接无效，可能复制不完整。请直接使用邮件中的链接。",
        "expired_form": "此表单已过期，请通过邮件中的链接重新打开页面。",
        "bad_request": "无法处理该请求：{reason}",
    },
}


def page_locale(*preferred: str | None) -> str:
    """The first of ``preferred`` that is given, as one of ``PAGE_LOCALES`` (English when none fits)."""
    return first_locale(preferred, PAGE_LOCALES)


def page_text(locale: str, **values: str) -> dict[str, str]:
    """The words in ``locale``, each ``{name}`` replaced by ``values[name]``."""
    return localized(_TEXT, locale, **values)

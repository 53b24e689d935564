"""The words of LINE account linking, in the locales the built-in messages are written in: the
mail button, the page it opens, the message prefilled in LINE, the button pushed back in LINE.

LINE's limits for the pushed buttons template: ``text`` ≤ 160 characters, an action ``label`` ≤ 20,
``altText`` ≤ 400.
"""

from __future__ import annotations

from typing import Final

from afterorder.content.i18n import first_locale, localized

LOCALES: Final = ("en", "ja", "zh-Hans")

_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "mail_button": "Get updates on LINE",
        "title": "Get updates on LINE",
        "intro": "{store} can send your order updates on LINE. Open LINE with the button below and send the "
                 "message that is already filled in.",
        "open": "Open LINE",
        "manual": "If the button does not open LINE, send this code to {store}'s LINE account ({basic_id}):",
        "after": "LINE then answers with a button: tap it to finish.",
        "chat": "LINE link code {code}",
        "push": "Tap the button to get {store}'s order updates on this LINE account.",
        "push_label": "Link account",
        "unavailable": "{store} does not send updates on LINE at the moment.",
        "expired": "This link has expired. Please open the link in the email again.",
        "bad_link": "This link is not valid. Please use the link from the email as it is.",
    },
    "ja": {
        "mail_button": "LINEで通知を受け取る",
        "title": "LINEで通知を受け取る",
        "intro": "{store}からのご注文のお知らせをLINEでお届けします。下のボタンでLINEを開き、"
                 "入力済みのメッセージをそのまま送信してください。",
        "open": "LINEを開く",
        "manual": "ボタンでLINEが開かない場合は、{store}のLINE公式アカウント（{basic_id}）に"
                  "次のコードを送ってください：",
        "after": "送信後、LINEに届くボタンをタップすると連携が完了します。",
        "chat": "LINE連携コード {code}",
        "push": "このLINEで{store}からのご注文のお知らせを受け取るには、下のボタンをタップしてください。",
        "push_label": "連携する",
        "unavailable": "{store}では現在LINEでのお知らせを行っていません。",
        "expired": "このリンクの有効期限が切れています。メールのリンクからもう一度お試しください。",
        "bad_link": "このリンクは無効です。メールに記載のリンクをそのままご利用ください。",
    },
    "zh-Hans": {
        "mail_button": "用LINE接收通知",
        "title": "用LINE接收通知",
        "intro": "{store}可以通过LINE向您发送订单通知。请点击下方按钮打开LINE，直接发送已填写好的消息。",
        "open": "打开LINE",
        "manual": "如果按钮无法打开LINE，请将以下代码发送给{store}的LINE官方账号（{basic_id}）：",
        "after": "发送后，LINE会回复一个按钮，点击即可完成绑定。",
        "chat": "LINE绑定码 {code}",
        "push": "点击下方按钮，即可在此LINE账号接收{store}的订单通知。",
        "push_label": "确认绑定",
        "unavailable": "{store}目前不通过LINE发送通知。",
        "expired": "此链接已过期，请重新打开邮件中的链接。",
        "bad_link": "此链接无效，请直接使用邮件中的链接。",
    },
}


def link_locale(*preferred: str | None) -> str:
    """The first of ``preferred`` that is given, as one of ``LOCALES`` (English when none fits)."""
    return first_locale(preferred, LOCALES)


def link_text(locale: str, **values: str) -> dict[str, str]:
    """The words in ``locale``, each ``{name}`` replaced by ``values[name]``."""
    return localized(_TEXT, locale, **values)


def mail_button(locale: str) -> str:
    """The label of the link in transactional mails: "LINEで通知を受け取る" and so on."""
    return _TEXT[link_locale(locale)]["mail_button"]

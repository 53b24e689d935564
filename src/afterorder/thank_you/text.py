"""The thank-you block's words in ja, zh-Hans and en, and the survey's choices.

``newsletter_wording`` is what the customer is shown beside the button and what the consent record
keeps as the wording they agreed to.
"""

from __future__ import annotations

from typing import Final

from afterorder.content.i18n import localized

SURVEY: Final = "heard-about"  # the survey's name in ``survey_answers``
CHOICES: Final = ("search", "social", "friend", "advert", "press", "other")

_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Thank you for your order",
        "picks": "You may also like",
        "line": "Get delivery updates on LINE.",
        "line_button": "Connect LINE",
        "newsletter_wording": "Send me news and offers from {store} by email.",
        "newsletter_button": "Subscribe",
        "newsletter_done": "You are subscribed. Thank you!",
        "newsletter_pending": "Almost done: please confirm with the link in the mail we have just sent you.",
        "survey": "How did you hear about us?",
        "survey_done": "Thank you for your answer.",
        "failed": "That did not work. Please try again later.",
        "choice.search": "Search engine", "choice.social": "Social media", "choice.friend": "A friend or family",
        "choice.advert": "An advertisement", "choice.press": "Magazine, blog or news", "choice.other": "Other",
    },
    "ja": {
        "title": "ご注文ありがとうございます",
        "picks": "こちらもおすすめ",
        "line": "配送状況を LINE でお知らせします。",
        "line_button": "LINE で受け取る",
        "newsletter_wording": "{store}からのお知らせ・お得な情報をメールで受け取る。",
        "newsletter_button": "登録する",
        "newsletter_done": "ご登録ありがとうございます。",
        "newsletter_pending": "お送りしたメールのリンクから登録を確定してください。",
        "survey": "当店を何でお知りになりましたか？",
        "survey_done": "ご回答ありがとうございます。",
        "failed": "うまくいきませんでした。しばらくしてからもう一度お試しください。",
        "choice.search": "検索エンジン", "choice.social": "SNS", "choice.friend": "友人・家族の紹介",
        "choice.advert": "広告", "choice.press": "雑誌・ブログ・ニュース", "choice.other": "その他",
    },
    "zh-Hans": {
        "title": "感谢您的订购",
        "picks": "猜你喜欢",
        "line": "通过 LINE 接收配送通知。",
        "line_button": "连接 LINE",
        "newsletter_wording": "通过电子邮件接收{store}的新品和优惠信息。",
        "newsletter_button": "订阅",
        "newsletter_done": "订阅成功，谢谢！",
        "newsletter_pending": "还差一步：请点击我们刚发送的邮件中的链接确认订阅。",
        "survey": "您是通过什么渠道了解到我们的？",
        "survey_done": "感谢您的回答。",
        "failed": "操作未成功，请稍后再试。",
        "choice.search": "搜索引擎", "choice.social": "社交媒体", "choice.friend": "亲友推荐",
        "choice.advert": "广告", "choice.press": "杂志、博客或新闻", "choice.other": "其他",
    },
}


def block_text(locale: str, **values: str) -> dict[str, str]:
    """The words in ``locale`` (English when none fits), ``{name}`` replaced by ``values[name]``."""
    return localized(_TEXT, locale, **values)


def locales() -> tuple[str, ...]:
    return tuple(_TEXT)

"""What a marketing message must say about its sender and how to stop it, per locale, and China's
advertisement subject prefix.

Japan's 特定電子メール法 Art. 4 asks every advertising mail to show the sender's name, the
statement that the recipient may refuse further mail and how (an address or URL for it), the
sender's postal address and a contact for complaints and questions; CAN-SPAM, CASL and the EU
ask for much the same.  China's rules (互联网广告管理办法, 电子邮件服务管理办法 Art. 13) ask for
"广告" or "AD" at the front of an advertising mail's subject.
"""

from __future__ import annotations

from typing import Final

_LEGAL: Final[dict[str, dict[str, str]]] = {
    "en": {
        "why": "You're receiving this email because you shop with {store} or signed up for its news.",
        "opt_out": "You can unsubscribe from these emails at any time with the link below; it works with one click.",
        "unsubscribe": "Unsubscribe",
        "preferences": "Email preferences",
        "sender": "Sent by",
        "address": "Address",
        "contact": "Contact",
    },
    "ja": {
        "why": "このメールは、{store}からのお知らせの受信にご同意いただいたお客様にお送りしています。",
        "opt_out": "今後このようなメールの受信を希望されない場合は、下記の「配信停止」から受信拒否のご連絡ができます"
                   "（ワンクリックで手続きが完了します）。",
        "unsubscribe": "配信停止（受信拒否）",
        "preferences": "配信設定の変更",
        "sender": "送信者",
        "address": "住所",
        "contact": "お問い合わせ先",
    },
    "zh-Hans": {
        "why": "您收到此邮件，是因为您同意接收{store}的资讯。",
        "opt_out": "如不希望再收到此类邮件，可随时通过下方的“退订”链接退订，一键即可完成。",
        "unsubscribe": "退订",
        "preferences": "邮件订阅设置",
        "sender": "发件人",
        "address": "地址",
        "contact": "联系方式",
    },
}

_AD_PREFIX: Final = {"zh-Hans": "【广告】"}
AD_PREFIX_OTHER: Final = "[AD] "


def legal_text(locale: str, store_name: str) -> dict[str, str]:
    from afterorder.content.i18n import resolve_locale  # content imports this module

    table = _LEGAL[resolve_locale(locale, list(_LEGAL), "en")]
    return {key: value.replace("{store}", store_name) for key, value in table.items()}


def ad_prefix(locale: str) -> str:
    """``【广告】`` for Chinese, ``[AD] `` for the rest."""
    from afterorder.content.i18n import resolve_locale  # content imports this module

    return _AD_PREFIX.get(resolve_locale(locale, [*_AD_PREFIX, "en"], "en"), AD_PREFIX_OTHER)

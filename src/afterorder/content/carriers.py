"""The carriers afterorder knows: their names in ja / zh-Hans / en, how their tracking numbers look
and where a number is tracked.

``find_carrier(name)`` recognises a carrier from what a store or platform calls it ("Yamato",
"ヤマト運輸", "クロネコヤマト", "yamato-transport", "SF Express", "顺丰速运", "USPS", ...): names are
compared after case folding, NFKC and with spaces, dots, hyphens and underscores removed.
``tracking_link(carrier, number, given_url)`` is the link a customer follows: the shipment's own
URL when it has one (an http(s) address), else the carrier's pattern filled with the number
(percent-encoded), else None — an unknown carrier's number is shown without a link.  A number that
does not match the carrier's usual format still gets the link (carriers add formats; a wrong link
is the carrier's page saying "not found", no harm), and ``looks_valid`` says whether it matched.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit


@dataclass(frozen=True)
class Carrier:
    code: str
    country: str  # where it is based: JP, CN or an international carrier (INT)
    names: dict[str, str]  # by locale: ja, zh-Hans, en
    tracking_url: str  # with {number}
    number_format: str  # a regular expression the whole (space-free) number matches
    aliases: tuple[str, ...] = ()

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["en"]

    def link(self, number: str) -> str:
        return self.tracking_url.format(number=quote(clean_number(number), safe=""))

    def looks_valid(self, number: str) -> bool:
        return re.fullmatch(self.number_format, clean_number(number)) is not None


CARRIERS: Final[tuple[Carrier, ...]] = (
    Carrier("yamato", "JP", {"ja": "ヤマト運輸", "zh-Hans": "大和运输", "en": "Yamato Transport"},
            "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number01={number}", r"\d{12}",
            ("yamato", "kuroneko", "クロネコヤマト", "クロネコ", "ヤマト", "taqbin", "takkyubin", "宅急便")),
    Carrier("sagawa", "JP", {"ja": "佐川急便", "zh-Hans": "佐川急便", "en": "Sagawa Express"},
            "https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do?okurijoNo={number}", r"\d{10,12}",
            ("sagawa", "佐川", "飛脚宅配便")),
    Carrier("japanpost", "JP", {"ja": "日本郵便", "zh-Hans": "日本邮政", "en": "Japan Post"},
            "https://trackings.post.japanpost.jp/services/srv/search/direct?reqCodeNo1={number}&locale=ja",
            r"\d{11,12}|[A-Z]{2}\d{9}JP",
            ("japan post", "jp post", "yubin", "郵便局", "ゆうパック", "ゆうパケット", "yu-pack", "yupack")),
    Carrier("seino", "JP", {"ja": "西濃運輸", "zh-Hans": "西浓运输", "en": "Seino Transportation"},
            "https://track.seino.co.jp/cgi-bin/gnpquery.pgm?GNPNO1={number}", r"\d{10,11}",
            ("seino", "カンガルー便", "西濃")),
    Carrier("fukuyama", "JP", {"ja": "福山通運", "zh-Hans": "福山通运", "en": "Fukuyama Transporting"},
            "https://corp.fukutsu.co.jp/situation/tracking_no_hunt/{number}", r"\d{10,12}",
            ("fukuyama", "fukutsu", "福通")),
    Carrier("sf", "CN", {"ja": "SFエクスプレス（順豊）", "zh-Hans": "顺丰速运", "en": "SF Express"},
            "https://www.sf-express.com/chn/sc/waybill/waybill-detail/{number}", r"SF\d{12,13}|\d{12}",
            ("顺丰", "sf express", "sfexpress", "shunfeng", "順豊", "sf")),
    Carrier("zto", "CN", {"ja": "中通快递（ZTO）", "zh-Hans": "中通快递", "en": "ZTO Express"},
            "https://www.zto.com/?num={number}", r"(7[35]|78|6\d|21)\d{10,13}|\d{12,15}",
            ("中通", "zto", "zto express", "zhongtong")),
    Carrier("yto", "CN", {"ja": "圓通速逓（YTO）", "zh-Hans": "圆通速递", "en": "YTO Express"},
            "https://www.yto.net.cn/gw/index/index.html?waybillNo={number}", r"YT\d{13,16}|\d{10,13}",
            ("圆通", "圓通", "yto", "yto express", "yuantong")),
    Carrier("yunda", "CN", {"ja": "韻達快逓（Yunda）", "zh-Hans": "韵达快递", "en": "Yunda Express"},
            "https://www.yundaex.com/cn/track/detail.html?mailNo={number}", r"\d{13,15}",
            ("韵达", "韻達", "yunda", "yunda express")),
    Carrier("jd", "CN", {"ja": "京東物流（JD Logistics）", "zh-Hans": "京东物流", "en": "JD Logistics"},
            "https://www.jdl.com/orderSearch/?waybillCodes={number}", r"JD[A-Z0-9]{11,16}|\d{11,15}",
            ("京东", "京東", "jd", "jdl", "jd logistics", "京东快递", "jingdong")),
    Carrier("chinapost", "CN", {"ja": "中国郵政／EMS", "zh-Hans": "中国邮政/EMS", "en": "China Post / EMS"},
            "https://www.ems.com.cn/queryList?mailNum={number}", r"[A-Z]{2}\d{9}CN|\d{13}",
            ("中国邮政", "中國郵政", "ems", "china post", "china ems", "邮政", "中国邮政ems", "邮政ems", "ems中国")),
    Carrier("dhl", "INT", {"ja": "DHL", "zh-Hans": "DHL", "en": "DHL"},
            "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}",
            r"\d{10,11}|JJD\d{18}|[A-Z]{3}\d{7}|[0-9A-Z]{14,20}", ("dhl express", "dhl ecommerce")),
    Carrier("fedex", "INT", {"ja": "FedEx", "zh-Hans": "联邦快递（FedEx）", "en": "FedEx"},
            "https://www.fedex.com/fedextrack/?trknbr={number}", r"\d{12}|\d{15}|\d{20}|\d{22}",
            ("联邦快递", "federal express", "fedex express", "fedex ground")),
    Carrier("ups", "INT", {"ja": "UPS", "zh-Hans": "UPS", "en": "UPS"},
            "https://www.ups.com/track?tracknum={number}", r"1Z[0-9A-Z]{16}|T\d{10}|\d{9}|\d{26}",
            ("united parcel service", "ups ground", "美国联合包裹")),
    Carrier("usps", "INT", {"ja": "USPS（アメリカ合衆国郵便）", "zh-Hans": "美国邮政（USPS）", "en": "USPS"},
            "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
            r"(9[1-5]\d{18,20})|[A-Z]{2}\d{9}US|\d{20,22}",
            ("united states postal service", "us postal service", "美国邮政")),
)

_SPACES: Final = re.compile(r"[\s._\-・/／()（）]+")


def _key(name: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", name).casefold())


_BY_KEY: Final[dict[str, Carrier]] = {}
for _carrier in CARRIERS:
    for _name in (_carrier.code, *_carrier.names.values(), *_carrier.aliases):
        _BY_KEY.setdefault(_key(_name), _carrier)


def clean_number(number: str) -> str:
    """The number as carriers take it: NFKC (full-width digits become ASCII), no spaces or hyphens,
    upper case."""
    return re.sub(r"[\s\-]+", "", unicodedata.normalize("NFKC", number)).upper()


def find_carrier(name: str | None) -> Carrier | None:
    """The carrier ``name`` stands for, or None when afterorder does not know it."""
    if not name or not name.strip():
        return None
    return _BY_KEY.get(_key(name))


def _http(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def tracking_link(carrier: str | None, number: str | None, given_url: str | None = None) -> str | None:
    """Where the customer tracks the parcel: the shipment's own link, else the known carrier's page for
    ``number``; None when neither (an unknown carrier, no number)."""
    own = _http(given_url)
    if own:
        return own
    known = find_carrier(carrier)
    if known is None or not number or not clean_number(number):
        return None
    return known.link(number)


def carrier_name(carrier: str | None, locale: str) -> str | None:
    """The carrier's name in ``locale`` when afterorder knows it, else the name as the store gave it."""
    known = find_carrier(carrier)
    return known.name(locale) if known else (carrier.strip() if carrier and carrier.strip() else None)

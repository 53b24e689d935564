"""Every built-in message, in every locale, as transactional and as marketing mail (with its
footer and List-Unsubscribe headers), scores at most 0 with SpamAssassin's local rules
(``spamassassin -L -t``).  Runs where Debian's spamassassin is installed (``make test`` installs it as root)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from afterorder.channels.email.mime import build_email, message_id_for
from afterorder.compliance.consent import MarketingView
from afterorder.compliance.message import plan_message
from afterorder.compliance.settings import ComplianceSettings, MarketingRule
from afterorder.content import Renderer
from afterorder.domain import CustomerSnapshot, LineSnapshot, OrderSnapshot, ShipmentSnapshot, StoreSnapshot
from afterorder.signing import Signer, new_signing_key
from tests.library_data import library_extra
from tests.system_packages import require

SPAMASSASSIN = shutil.which("spamassassin")


@pytest.fixture(autouse=True)
def _spamassassin() -> None:
    require(SPAMASSASSIN is not None, "spamassassin", "sudo apt-get install spamassassin")


PLACED = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
STORES = {
    "ja": StoreSnapshot(slug="kumo", name="雲茶舗", email_from="shop@kumo.example", reply_to="support@kumo.example",
                        country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY",
                        postal_address="京都府京都市下京区 1-2-3", support_email="support@kumo.example",
                        support_phone="075-000-0000", base_url="https://mail.kumo.example"),
    "zh-Hans": StoreSnapshot(slug="yun", name="云茶铺", email_from="shop@yun.example", reply_to="kefu@yun.example",
                             country="CN", locale="zh-Hans", timezone="Asia/Shanghai", currency="CNY",
                             postal_address="上海市黄浦区南京东路 100 号", support_email="kefu@yun.example",
                             base_url="https://mail.yun.example"),
    "en": StoreSnapshot(slug="harbor", name="Harbor Goods", email_from="hello@harbor.example",
                        reply_to="help@harbor.example", country="US", locale="en", timezone="America/New_York",
                        currency="USD", postal_address="1 Harbor St\nPortland, ME 04101",
                        support_email="help@harbor.example",
                        support_url="https://harbor.example/help", base_url="https://mail.harbor.example"),
}
CUSTOMERS = {
    "ja": CustomerSnapshot(email="taro@example.jp", first_name="太郎", last_name="山田", locale="ja"),
    "zh-Hans": CustomerSnapshot(email="wang@example.cn", first_name="芳", last_name="王", locale="zh-Hans"),
    "en": CustomerSnapshot(email="emma@example.com", first_name="Emma", last_name="Smith", locale="en"),
}


def order(locale: str) -> OrderSnapshot:
    currency = STORES[locale].currency
    price = Decimal(15000) if currency == "JPY" else Decimal("120.00")
    return OrderSnapshot(
        number="1001", currency=currency, placed_at=PLACED, subtotal=price, shipping=Decimal(0), total=price,
        lines=(LineSnapshot(title={"ja": "京焼 急須", "zh-Hans": "青瓷茶壶", "en": "Wool Throw"}[locale], quantity=1,
                            price=price, image_url="https://cdn.example/p1.jpg", url="https://shop.example/p1"),),
        shipping_address={"name": "Recipient", "line1": "1-2-3", "city": "Kyoto", "country": "JP"},
        shipment=ShipmentSnapshot(carrier="Yamato", tracking_number="1234-5678", tracking_url="https://track.example/1",
                                  estimated_delivery=datetime(2026, 11, 24, 3, 0, tzinfo=UTC)))


def as_sent(renderer: Renderer, template: str, locale: str, category: str) -> bytes:
    """The message as the scheduler queues it: planned, rendered, built."""
    store = STORES[locale]
    settings = ComplianceSettings(MarketingRule.OPT_IN, china_ad_prefix=locale == "zh-Hans")
    rules, headers = plan_message(
        signer=Signer(new_signing_key()), slug=store.slug, base_url=store.base_url, email_from=store.email_from,
        settings=settings, view=MarketingView({(1, 7): "granted"}, set()), store_id=1, customer_id=7, run_id=42,
        step=0, category=category, locale=locale)
    rendered = renderer.render(template, locale, store=store, customer=CUSTOMERS[locale], order=order(locale),
                               links={"confirm": f"{store.base_url}/confirm/{store.slug}/token",
                                      "order_status": "https://shop.example/orders/1001",
                                      "shop": "https://shop.example/new"},
                               compliance=rules, extra=library_extra(template, locale))
    return build_email(store, to=CUSTOMERS[locale].email or "", rendered=rendered, category=category, date=PLACED,
                       message_id=message_id_for(store, f"{template}/{locale}/{category}"), extra_headers=headers)


async def test_every_built_in_message_scores_at_most_zero(tmp_path: Path) -> None:
    renderer = Renderer()
    names: list[str] = []
    mbox = bytearray()
    for template in renderer.templates():
        for locale in renderer.locales_for(template):
            for category in ("transactional", "marketing"):
                names.append(f"{template}/{locale}/{category}")
                mbox += b"From shop@example Sun Nov 22 01:00:00 2026\n"
                mbox += as_sent(renderer, template, locale, category).replace(b"\r\n", b"\n") + b"\n"
    assert len(names) >= 24
    process = await asyncio.create_subprocess_exec(
        SPAMASSASSIN or "spamassassin", "-L", "-t", "--mbox", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(tmp_path)})
    out, err = await process.communicate(bytes(mbox))
    assert process.returncode == 0, err.decode(errors="replace")
    statuses = re.findall(rb"^X-Spam-Status: (\w+), score=(-?\d+(?:\.\d+)?) required=\S+ tests=([^\n]*(?:\n\t[^\n]*)*)",
                          out, flags=re.MULTILINE)
    assert len(statuses) == len(names), out.decode(errors="replace")[-2000:]
    scores = {name: (float(score), b" ".join(tests.split()).decode()) for name, (_, score, tests) in zip(
        names, statuses, strict=True)}
    too_high = {name: s for name, s in scores.items() if s[0] > 0}
    assert not too_high, too_high

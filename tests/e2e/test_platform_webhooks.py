"""A shop owner connects Shopify with one command; a signed orders/create webhook for a Japanese
customer reaches the order confirmation flow and a Japanese mail arrives at a real SMTP server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from afterorder.dev.smtp_server import DevSmtpServer
from tests.e2e.processes import add_store_cli, cli, serve
from tests.platforms import sample_json, shopify_headers

SECRET = "shpss_7d41e0b5c2"


def japanese_order() -> bytes:
    """Shopify's published orders/create sample, as a Kyoto tea shop's order from a Japanese customer."""
    order: dict[str, Any] = sample_json("shopify", "orders_create.sample.json")
    for key in [k for k in order if k.endswith("_set")]:
        del order[key]
    order.update(id=5820982911946, name="#1001", order_number=1001, customer_locale="ja", currency="JPY",
                 presentment_currency="JPY", test=False, cancelled_at=None, cancel_reason=None,
                 financial_status="paid", email="taro@example.jp", contact_email="taro@example.jp",
                 created_at="2026-11-22T10:00:00+09:00", processed_at="2026-11-22T10:00:00+09:00",
                 subtotal_price="15000", total_price="15800", total_tax="0", total_discounts="0",
                 shipping_lines=[{"id": 1, "title": "宅急便", "price": "800"}])
    order["line_items"] = [{"id": 1, "product_id": 7001, "variant_id": 8001, "title": "京焼 急須",
                            "variant_title": "白", "sku": "KYO-KYUSU-W", "quantity": 1, "price": "15000"}]
    address = {"first_name": "太郎", "last_name": "山田", "name": "山田 太郎", "address1": "烏丸通四条下ル 1-2-3",
               "city": "京都市下京区", "province": "京都府", "province_code": "JP-26", "zip": "600-8216",
               "country": "Japan", "country_code": "JP", "phone": "075-000-0000"}
    order["shipping_address"] = order["billing_address"] = address
    order["customer"].update(id=7310627314723, first_name="太郎", last_name="山田", email="taro@example.jp",
                             email_marketing_consent={"state": "subscribed", "opt_in_level": "single_opt_in"})
    # Shopify escapes "/" in its bodies; the signature is over exactly these bytes
    return json.dumps(order, ensure_ascii=False).replace("/", "\\/").encode()


async def test_a_signed_shopify_order_is_confirmed_in_japanese(sqlite_url: str, smtp_server: DevSmtpServer,
                                                               tmp_path: Path) -> None:
    add_store_cli(sqlite_url, "kumo", country="JP", locale="ja", timezone="Asia/Tokyo", currency="JPY",
                  support_email="support@kumo.example", reply_to="support@kumo.example")
    refused = cli("store", "connect", "kumo", "saleor", database=sqlite_url, check=False)
    assert refused.returncode == 1 and "--api-url" in refused.stderr
    async with serve(sqlite_url, smtp_server.url, log=tmp_path / "serve.log") as url:
        printed = cli("store", "connect", "kumo", "shopify", "--secret", "shpss_old", "--base-url", url,
                      database=sqlite_url).stdout
        assert f"{url}/webhooks/shopify/kumo" in printed and "orders/create" in printed and "refunds/create" in printed
        connected = json.loads(cli("store", "connect", "kumo", "shopify", "--secret", SECRET, "--keep-previous",
                                   "--base-url", url, "--json", database=sqlite_url).stdout)
        assert connected["webhook_url"] == f"{url}/webhooks/shopify/kumo" and connected["previous_secret_kept"]
        body = japanese_order()
        async with httpx.AsyncClient(timeout=10) as client:
            forged = await client.post(connected["webhook_url"], content=body,
                                       headers=shopify_headers(body, "wrong", "orders/create"))
            assert forged.status_code == 401
            response = await client.post(connected["webhook_url"], content=body,
                                         headers=shopify_headers(body, SECRET, "orders/create"))
            assert response.status_code == 200, response.text
            assert response.json()["accepted"][0]["runs_started"] == 1
            await smtp_server.inbox.wait_for(1, 5.0)
            again = await client.post(connected["webhook_url"], content=body,
                                      headers=shopify_headers(body, SECRET, "orders/create"))
            assert again.json()["accepted"][0]["status"] == "duplicate"
            rotating = await client.post(connected["webhook_url"], content=body,
                                         headers=shopify_headers(body, "shpss_old", "orders/create", "w-2"))
            assert rotating.status_code == 200, "the previous secret still verifies during the rotation"
    [mail] = smtp_server.inbox.all()
    assert list(mail.recipients) == ["taro@example.jp"]
    assert "ご注文ありがとうございます" in mail.subject and "#1001" in mail.subject
    assert mail.text is not None and mail.html is not None
    assert "山田 太郎 様" in mail.text and "京焼 急須" in mail.html and "¥15,800" in mail.text
    assert "京都市下京区" in mail.text


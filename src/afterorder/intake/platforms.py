"""The platforms afterorder takes webhooks from.  Adding one: a module with its adapter, and a line here."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from afterorder.intake.adapters import PlatformAdapter
from afterorder.intake.eccube import EccubeAdapter
from afterorder.intake.ecwid import EcwidAdapter
from afterorder.intake.saleor import JwksKeys, SaleorAdapter, origin
from afterorder.intake.shopify import ShopifyAdapter
from afterorder.intake.woocommerce import WooCommerceAdapter

# name → build the adapter (given the HTTP client an adapter may need to fetch keys with)
REGISTRY: dict[str, Callable[[httpx.AsyncClient | None], PlatformAdapter]] = {
    "shopify": lambda _http: ShopifyAdapter(),
    "woocommerce": lambda _http: WooCommerceAdapter(),
    "saleor": lambda http: SaleorAdapter(JwksKeys(http)),
    "ecwid": lambda _http: EcwidAdapter(),
    "eccube": lambda _http: EccubeAdapter(),
}


def build_adapters(http: httpx.AsyncClient | None = None) -> dict[str, PlatformAdapter]:
    return {name: build(http) for name, build in REGISTRY.items()}


def connection_problems(adapter: PlatformAdapter, secret: str | None, api_url: str | None,
                        account_id: str | None = None, token: str | None = None) -> list[str]:
    """What is missing or wrong in a request to connect a store to this platform, each naming the option."""
    if adapter.name == "eccube":
        return eccube_problems(secret, api_url, account_id, token)
    problems = ecwid_problems(account_id, token) if adapter.name == "ecwid" else []
    if adapter.needs_secret and not secret:
        problems.append("client_secret: Ecwid signs every webhook with your app's client secret; give it"
                        if adapter.name == "ecwid" else
                        f"secret: {adapter.name} signs every webhook with a secret; give the one it shows you")
    if secret is not None and len(secret) > 255:
        problems.append("secret: at most 255 characters")
    if adapter.needs_api_url and not api_url:
        problems.append(f"api_url: give your {adapter.name} API URL, e.g. https://shop.example.com/graphql/")
    if api_url:
        try:
            origin(api_url)
        except ValueError as exc:
            problems.append(f"api_url: {exc}")
    return problems


def webhook_url(base_url: str, platform: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}/webhooks/{platform}/{slug}"


def ecwid_problems(account_id: str | None, token: str | None) -> list[str]:
    """Ecwid also needs its store id (a number) and a REST token with the read_orders scope."""
    problems = []
    if not account_id or not account_id.isdigit() or len(account_id) > 20:
        problems.append("store_id: give your Ecwid store id (a number: Ecwid admin → Settings → General)")
    if not token:
        problems.append("token: give the Ecwid app's access token (secret_…, with the read_orders scope)")
    elif len(token) > 255:
        problems.append("token: at most 255 characters")
    return problems


def eccube_problems(webhook_secret: str | None, url: str | None, client_id: str | None,
                    client_secret: str | None) -> list[str]:
    """EC-CUBE needs the shop's URL (or its API base), an OAuth2 client of the Web API plugin, and the
    secret its WebHook signs with."""
    problems = []
    if not url:
        problems.append("url: give your EC-CUBE shop's URL, e.g. https://shop.example.jp")
    else:
        try:
            origin(url)
        except ValueError as exc:
            problems.append(f"url: {exc}")
    for name, value, what in (("client_id", client_id, "the API client's id (設定 → API管理 → OAuth管理)"),
                              ("client_secret", client_secret, "the API client's secret"),
                              ("webhook_secret", webhook_secret, "the secret set on the WebHook (設定 → API管理 → "
                                                                 "WebHook管理): EC-CUBE signs every delivery with it")):
        if not value:
            problems.append(f"{name}: give {what}")
        elif len(value) > (64 if name == "client_id" else 255):
            problems.append(f"{name}: at most {64 if name == 'client_id' else 255} characters")
    return problems

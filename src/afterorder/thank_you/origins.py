"""The shop's own origins: the only sites whose pages may read the thank-you block's data and post
to it (CORS).

A store sets them (``PUT /api/v1/thank-you-block``, kept in ``store_settings.shop_origins``).  Until
it does, they come from its platform connections' URLs (a Saleor or EC-CUBE shop's API URL names its
site; Ecwid's URL is Ecwid's own API, not the shop's, so it does not count).  An origin is
``scheme://host[:port]``, https (http only for loopback, for development), without a path; the same
origin written twice counts once.  There is never a wildcard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import platform_connections, store_settings

MAX_ORIGINS: Final = 10
NOT_THE_SHOP: Final = frozenset({"ecwid"})  # platforms whose URL is their own API's, not the shop's
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
Source = Literal["setting", "connection", "none"]


class OriginError(ValueError):
    """An origin the store gave cannot be one; the message says why."""


@dataclass(frozen=True)
class ShopOrigins:
    origins: tuple[str, ...]
    source: Source

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin in self.origins


def normalize_origin(text: str) -> str:
    """``https://Shop.Example:443/`` → ``https://shop.example``; ``OriginError`` for anything else
    than an https origin (or http on loopback)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise OriginError(f"{text!r}: write the shop's origin, such as https://shop.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise OriginError(f"{text!r}: an origin has no path, query or user (https://shop.example)")
    host = parts.hostname.lower()
    shown = f"[{host}]" if ":" in host else host
    if parts.scheme == "http" and shown not in _LOOPBACK:
        raise OriginError(f"{text!r}: use https (http only for localhost)")
    try:
        port = parts.port
    except ValueError:
        raise OriginError(f"{text!r}: the port is not a number from 1 to 65535") from None
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        shown = f"{shown}:{port}"
    return f"{parts.scheme}://{shown}"


def normalize_origins(texts: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for text in texts:
        origin = normalize_origin(text)
        if origin not in found:
            found.append(origin)
    if len(found) > MAX_ORIGINS:
        raise OriginError(f"at most {MAX_ORIGINS} origins")
    return tuple(found)


def connection_origins(urls: Iterable[str | None]) -> tuple[str, ...]:
    found: list[str] = []
    for url in urls:
        parts = urlsplit(url or "")
        try:
            origin = normalize_origin(f"{parts.scheme}://{parts.netloc}")
        except OriginError:
            continue
        if origin not in found:
            found.append(origin)
    return tuple(found)


async def shop_origins(conn: AsyncConnection, store_id: int) -> ShopOrigins:
    """The origins the store's block answers, and where they come from."""
    chosen = (await conn.execute(select(store_settings.c.shop_origins).where(
        store_settings.c.store_id == store_id))).scalar()
    if isinstance(chosen, list):
        return ShopOrigins(tuple(str(o) for o in chosen), "setting")
    urls = (await conn.execute(select(platform_connections.c.api_url).where(
        platform_connections.c.store_id == store_id, platform_connections.c.platform.not_in(NOT_THE_SHOP))
        .order_by(platform_connections.c.platform))).scalars().all()
    derived = connection_origins(urls)
    return ShopOrigins(derived, "connection") if derived else ShopOrigins((), "none")


async def set_shop_origins(conn: AsyncConnection, store_id: int, origins: Sequence[str] | None,
                           now: datetime) -> ShopOrigins:
    """Set the store's origins (``normalize_origins``; ``OriginError`` naming a bad one); ``None``
    goes back to the connection's."""
    value = list(normalize_origins(origins)) if origins is not None else None
    changed = await conn.execute(update(store_settings).where(store_settings.c.store_id == store_id)
                                 .values(shop_origins=value, updated_at=now))
    if changed.rowcount == 0:
        await conn.execute(store_settings.insert().values(store_id=store_id, shop_origins=value, updated_at=now))
    return await shop_origins(conn, store_id)

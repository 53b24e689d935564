"""Signed tokens for links that leave afterorder: unsubscribe, preference centre, open pixel,
click redirect, survey answers.

A token is ``base64url(json payload) + "." + base64url(HMAC-SHA256(store key, purpose + payload))``,
truncated to 128 bits of MAC.  The purpose is part of the MAC, so a click token can never be
replayed as an unsubscribe token.  Verification is constant time; any change to either half, a
token for another purpose or another store's key raises :class:`BadToken`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

MAC_BYTES = 16


class BadToken(ValueError):
    """The token was altered, truncated, or signed for another purpose or store."""


def new_signing_key() -> str:
    """A fresh per-store key: 32 random bytes, hex."""
    return secrets.token_hex(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise BadToken("the token is not valid base64url") from exc


class Signer:
    """Signs and checks tokens with one store's key."""

    def __init__(self, key: str) -> None:
        if len(key) < 32:
            raise ValueError("a signing key needs at least 32 characters")
        self._key = key.encode()

    def _mac(self, purpose: str, body: str) -> bytes:
        return hmac.new(self._key, f"{purpose}\x00{body}".encode(), hashlib.sha256).digest()[:MAC_BYTES]

    def digest(self, purpose: str, data: bytes) -> bytes:
        """HMAC-SHA256 over ``purpose`` and raw ``data`` with this key, for compact codes that are not
        JSON tokens (the short links of SMS, ``tracking.short_links``); callers truncate and compare it
        with ``hmac.compare_digest``."""
        return hmac.new(self._key, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()

    def sign(self, purpose: str, payload: Any) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode())
        return f"{body}.{_b64(self._mac(purpose, body))}"

    def verify(self, purpose: str, token: str) -> Any:
        body, dot, mac = token.partition(".")
        if not dot or not body or not mac:
            raise BadToken("the token is incomplete")
        given = _unb64(mac)
        if _b64(given) != mac:  # base64 lets a last character vary in its unused bits: only the canonical form
            raise BadToken("the token's signature is not in canonical form")
        if not hmac.compare_digest(given, self._mac(purpose, body)):
            raise BadToken("the token's signature does not match")
        try:
            return json.loads(_unb64(body))
        except ValueError as exc:  # pragma: no cover - only reachable with a forged MAC
            raise BadToken("the token's payload is not JSON") from exc

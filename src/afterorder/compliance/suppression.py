"""The suppression list: addresses a store may not mail.

An address is normalised (trimmed, lower-cased) and hashed (SHA-256, hex); delivery compares
hashes only, so when a customer is erased the address can go and the hash stays: an erased
address still cannot be mailed.

* ``hard_bounce`` and ``complaint`` block every message, transactional included (mail to an
  address that does not exist, or whose owner marked us as spam, only hurts the sender's
  reputation);
* ``unsubscribe`` and ``manual`` block marketing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.key_lists import in_keys
from afterorder.db.schema import suppressions
from afterorder.db.statements import insert_ignore

CHUNK = 500


class Reason(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    MANUAL = "manual"


BLOCKS_EVERYTHING = frozenset({Reason.HARD_BOUNCE, Reason.COMPLAINT})
_COLUMNS = ("store_id", "address_hash", "address", "reason", "source", "event_id", "detail", "created_at")


def normalise(address: str) -> str:
    return address.strip().lower()


def address_hash(address: str) -> str:
    return hashlib.sha256(normalise(address).encode("utf-8")).hexdigest()


async def suppress(conn: AsyncConnection, store_id: int, address: str, reason: Reason | str, *, source: str,
                   now: datetime, event_id: int | None = None, detail: str = "") -> None:
    """Suppress ``address`` for ``reason`` (once per reason; a repeat is ignored)."""
    reason = Reason(reason)
    if not normalise(address):
        raise ValueError("an empty address cannot be suppressed")
    await conn.execute(insert_ignore(suppressions, _COLUMNS), {
        "store_id": store_id, "address_hash": address_hash(address), "address": normalise(address),
        "reason": reason.value, "source": source[:64], "event_id": event_id, "detail": detail[:2000],
        "created_at": now})


async def lift(conn: AsyncConnection, store_id: int, address: str, reason: Reason | str | None = None) -> int:
    """Remove suppressions of ``address`` (one reason, or all); returns how many were removed."""
    query = suppressions.delete().where(suppressions.c.store_id == store_id,
                                        suppressions.c.address_hash == address_hash(address))
    if reason is not None:
        query = query.where(suppressions.c.reason == Reason(reason).value)
    return (await conn.execute(query)).rowcount


_REASONS = select(suppressions.c.store_id, suppressions.c.address_hash, suppressions.c.reason).where(
    in_keys(suppressions.c.store_id, "stores"),
    in_keys(suppressions.c.address_hash, "hashes"))  # built once: read for every batch


async def reasons_for(conn: AsyncConnection, recipients: Iterable[tuple[int, str]]
                      ) -> dict[tuple[int, str], set[Reason]]:
    """For each (store id, address): why it is suppressed (an empty set when it is not)."""
    wanted = {(store_id, address_hash(a)): (store_id, a) for store_id, a in recipients if a}
    found: dict[tuple[int, str], set[Reason]] = {key: set() for key in wanted.values()}
    hashes = sorted({h for _, h in wanted})
    stores = {s for s, _ in wanted}
    for start in range(0, len(hashes), CHUNK):
        rows = await conn.execute(_REASONS, {"stores": sorted(stores), "hashes": hashes[start:start + CHUNK]})
        for r in rows:
            key = wanted.get((r.store_id, r.address_hash))
            if key is not None:
                found[key].add(Reason(r.reason))
    return found


def blocked_reason(category: str, reasons: set[Reason]) -> str | None:
    """Why a message of ``category`` may not go to an address suppressed for ``reasons``."""
    for reason in (Reason.HARD_BOUNCE, Reason.COMPLAINT):
        if reason in reasons:
            return f"address suppressed ({reason.value})"
    if category == "marketing" and reasons:
        return f"address suppressed ({sorted(reasons)[0].value})"
    return None


async def list_suppressions(conn: AsyncConnection, store_id: int, limit: int = 1000) -> list[dict[str, object]]:
    rows = await conn.execute(select(suppressions).where(suppressions.c.store_id == store_id)
                              .order_by(suppressions.c.id.desc()).limit(limit))
    return [dict(r) for r in rows.mappings()]

"""Coupon codes: generated (store prefix + random, from an alphabet without look-alikes) or drawn from an
imported pool; issued once per (run, step), so a retried step gets the same code; redeemed when an order
event names the code (``properties.coupon``, ``properties.coupons`` or ``properties.discount_codes``)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import coupons
from afterorder.db.statements import insert_ignore

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: a code read aloud or retyped still works
RANDOM_LENGTH = 8
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")
POOL = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class CouponError(ValueError):
    """A coupon cannot be issued or imported; the message says why."""


@dataclass(frozen=True)
class CouponRequest:
    """What a send step asks for: a code from ``pool``, or a generated one with ``prefix``."""

    pool: str | None = None
    prefix: str = ""
    percent: int | None = None
    amount: Decimal | None = None
    valid: timedelta | None = None


@dataclass(frozen=True)
class Coupon:
    code: str
    percent: int | None
    amount: Decimal | None
    expires_at: datetime | None

    def as_template(self) -> dict[str, Any]:
        return {"code": self.code, "percent": self.percent, "amount": self.amount, "expires_at": self.expires_at}


def generate_code(prefix: str, length: int = RANDOM_LENGTH) -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return f"{prefix.upper()}-{random_part}" if prefix else random_part


def _coupon(row: Any) -> Coupon:
    amount = Decimal(row.amount) if row.amount is not None else None
    return Coupon(row.code, row.percent, amount, row.expires_at)


async def issued(conn: AsyncConnection, store_id: int, run_id: int, step: int) -> Coupon | None:
    row = (await conn.execute(select(coupons).where(
        coupons.c.store_id == store_id, coupons.c.run_id == run_id, coupons.c.step == step))).first()
    return _coupon(row) if row else None


async def issue(conn: AsyncConnection, store_id: int, request: CouponRequest, *, run_id: int, step: int,
                customer_id: int | None, now: datetime) -> Coupon:
    """The coupon of step ``step`` of run ``run_id``: the one issued before, or a new one."""
    found = await issued(conn, store_id, run_id, step)
    if found is not None:
        return found
    expires = now + request.valid if request.valid else None
    if request.pool is not None:
        for _ in range(5):  # another worker may take the same free code: try the next one
            free = (await conn.execute(select(coupons.c.id).where(
                coupons.c.store_id == store_id, coupons.c.pool == request.pool, coupons.c.run_id.is_(None),
                coupons.c.redeemed_at.is_(None), (coupons.c.expires_at.is_(None)) | (coupons.c.expires_at > now),
            ).order_by(coupons.c.id).limit(1))).first()
            if free is None:
                raise CouponError(f"coupon pool {request.pool!r} has no unused codes left; import more with "
                                  f"`afterorder coupon import {request.pool} FILE`")
            taken = await conn.execute(coupons.update().where(coupons.c.id == free.id, coupons.c.run_id.is_(None))
                                       .values(run_id=run_id, step=step, customer_id=customer_id, issued_at=now))
            if taken.rowcount:
                found = await issued(conn, store_id, run_id, step)
                assert found is not None
                return found
        raise CouponError(f"coupon pool {request.pool!r}: could not take a free code")
    for _ in range(5):
        row = {"store_id": store_id, "code": generate_code(request.prefix), "pool": None,
               "percent": request.percent, "amount": request.amount, "customer_id": customer_id, "run_id": run_id,
               "step": step, "issued_at": now, "expires_at": expires, "redeemed_at": None,
               "redeemed_order_id": None, "created_at": now}
        await conn.execute(insert_ignore(coupons, tuple(row)), [row])
        found = await issued(conn, store_id, run_id, step)
        if found is not None:
            return found
    raise CouponError("could not generate a unique coupon code")


async def import_pool(conn: AsyncConnection, store_id: int, pool: str, codes: Iterable[str], *,
                      percent: int | None, amount: Decimal | None, expires_at: datetime | None,
                      now: datetime) -> tuple[int, int]:
    """Add ``codes`` to ``pool``; returns (added, already there).  A malformed code refuses the whole file."""
    if not POOL.fullmatch(pool):
        raise CouponError(f"pool name {pool!r}: use lower-case letters, digits, '-' and '_'")
    wanted: list[str] = []
    for number, raw in enumerate(codes, start=1):
        code = raw.strip()
        if not code or code.startswith("#") or (number == 1 and code.lower() == "code"):
            continue
        if not CODE.fullmatch(code):
            raise CouponError(f"line {number}: {code[:40]!r} is not a coupon code (3-64 letters, digits, '-', '_')")
        wanted.append(code)
    if not wanted:
        raise CouponError("no codes in the file")
    unique = list(dict.fromkeys(wanted))
    before = (await conn.execute(select(func.count()).select_from(coupons).where(
        coupons.c.store_id == store_id))).scalar_one()
    rows = [{"store_id": store_id, "code": code, "pool": pool, "percent": percent, "amount": amount,
             "customer_id": None, "run_id": None, "step": None, "issued_at": None, "expires_at": expires_at,
             "redeemed_at": None, "redeemed_order_id": None, "created_at": now} for code in unique]
    await conn.execute(insert_ignore(coupons, tuple(rows[0])), rows)
    after = (await conn.execute(select(func.count()).select_from(coupons).where(
        coupons.c.store_id == store_id))).scalar_one()
    return after - before, len(unique) - (after - before)


async def pool_counts(conn: AsyncConnection, store_id: int, pool: str) -> tuple[int, int]:
    """(free, issued) codes of ``pool``."""
    rows = (await conn.execute(select(coupons.c.run_id.is_(None).label("free"), func.count()).where(
        coupons.c.store_id == store_id, coupons.c.pool == pool).group_by(coupons.c.run_id.is_(None)))).all()
    counts = {bool(free): n for free, n in rows}
    return counts.get(True, 0), counts.get(False, 0)


async def redeem(conn: AsyncConnection, store_id: int, used: Sequence[tuple[str, int | None, datetime]]) -> int:
    """Record codes used by orders (code, order id, when); a code counts once.  Returns how many were new."""
    count = 0
    for code, order_id, at in used:
        result = await conn.execute(coupons.update().where(and_(
            coupons.c.store_id == store_id, func.upper(coupons.c.code) == code.upper(),
            coupons.c.redeemed_at.is_(None))).values(redeemed_at=at, redeemed_order_id=order_id))
        count += result.rowcount or 0
    return count

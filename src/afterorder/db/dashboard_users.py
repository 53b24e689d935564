"""Dashboard users, the stores each may see with a role there, and login sessions.

Passwords are hashed with scrypt (``hashlib.scrypt``, N=2**14, r=8, p=1, a 16-byte random salt).
A session is a random token in an HttpOnly cookie; the table keeps only its SHA-256, the form
token every POST must echo (CSRF) and the store the user is looking at.  Each user may choose the
dashboard's language (``set_language``); until then the browser's is used.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import dashboard_members, dashboard_sessions, dashboard_users, login_failures, stores

USERNAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_PASSWORD: Final = 8
LANGUAGES: Final = ("en", "ja", "zh_Hans")  # the dashboard's (web/dashboard/locale.py)
SESSION_LIFETIME: Final = timedelta(days=14)
MAX_FAILURES: Final = 10  # wrong passwords per username …
FAILURE_WINDOW: Final = timedelta(minutes=15)  # … within this long, then the username waits
_N, _R, _P = 2**14, 8, 1


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"

    def may_edit(self) -> bool:
        """Flows and templates."""
        return self in (Role.OWNER, Role.EDITOR)

    def may_administer(self) -> bool:
        """Store settings."""
        return self is Role.OWNER


class UserError(ValueError):
    """A user could not be created as asked; the message names the problem."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        found = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               maxmem=64 * 1024 * 1024)
    except ValueError:
        return False
    return hmac.compare_digest(found.hex(), digest)


@dataclass(frozen=True)
class Membership:
    store_id: int
    slug: str
    name: str
    role: Role


@dataclass(frozen=True)
class Session:
    user_id: int
    username: str
    csrf_token: str
    store_id: int | None
    memberships: tuple[Membership, ...]
    language: str | None = None  # the user's choice of the dashboard's language; None: the browser's

    def membership(self, store_id: int | None) -> Membership | None:
        return next((m for m in self.memberships if m.store_id == store_id), None)

    @property
    def current(self) -> Membership | None:
        """The store being looked at: the one chosen, else the first the user may see."""
        return self.membership(self.store_id) or (self.memberships[0] if self.memberships else None)


async def add_user(conn: AsyncConnection, username: str, password: str, store_roles: list[tuple[int, Role]],
                   now: datetime) -> int:
    """Create the user, or set a new password and add stores for an existing one."""
    if not USERNAME.fullmatch(username):
        raise UserError("username: use letters, digits and . _ @ - (at most 64)")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: use at least {MIN_PASSWORD} characters")
    if not store_roles:
        raise UserError("give at least one store")
    hashed = hash_password(password)
    found = (await conn.execute(select(dashboard_users.c.id).where(dashboard_users.c.username == username))).scalar()
    if found is None:
        result = await conn.execute(dashboard_users.insert().values(username=username, password_hash=hashed,
                                                                    created_at=now))
        user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    else:
        user_id = int(found)
        await conn.execute(update(dashboard_users).where(dashboard_users.c.id == user_id)
                           .values(password_hash=hashed))
    for store_id, role in store_roles:
        await conn.execute(delete(dashboard_members).where(dashboard_members.c.store_id == store_id,
                                                           dashboard_members.c.user_id == user_id))
        await conn.execute(dashboard_members.insert().values(store_id=store_id, user_id=user_id, role=role.value))
    return user_id


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TooManyFailures(Exception):
    """Too many wrong passwords for this username lately; ``until`` is when it may try again."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


async def log_in(conn: AsyncConnection, username: str, password: str, now: datetime) -> str | None:
    """A new session token for the right password, else None (the failure is counted).  Raises
    TooManyFailures after ``MAX_FAILURES`` wrong passwords for the username within ``FAILURE_WINDOW``,
    before the password is even checked, so guessing goes no faster with the right one among them."""
    since = now - FAILURE_WINDOW
    recent = [r.at for r in await conn.execute(select(login_failures.c.at).where(
        login_failures.c.username == username, login_failures.c.at > since).order_by(login_failures.c.at))]
    if len(recent) >= MAX_FAILURES:
        raise TooManyFailures(recent[-MAX_FAILURES] + FAILURE_WINDOW)
    token = await _check(conn, username, password, now)
    if token is None:
        await conn.execute(delete(login_failures).where(login_failures.c.at <= since))
        await conn.execute(login_failures.insert().values(username=username[:64], at=now))
    else:
        await conn.execute(delete(login_failures).where(login_failures.c.username == username))
    return token


async def _check(conn: AsyncConnection, username: str, password: str, now: datetime) -> str | None:
    row = (await conn.execute(select(dashboard_users.c.id, dashboard_users.c.password_hash)
                              .where(dashboard_users.c.username == username))).first()
    if row is None:
        check_password(password, hash_password("timing"))  # the same work whether or not the user exists
        return None
    if not check_password(password, row.password_hash):
        return None
    token = secrets.token_urlsafe(32)
    await conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at <= now))  # old logins
    await conn.execute(dashboard_sessions.insert().values(
        token_hash=_token_hash(token), user_id=row.id, csrf_token=secrets.token_urlsafe(32), store_id=None,
        created_at=now, expires_at=now + SESSION_LIFETIME))
    return token


async def log_out(conn: AsyncConnection, token: str) -> None:
    await conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.token_hash == _token_hash(token)))


async def session_for(conn: AsyncConnection, token: str, now: datetime) -> Session | None:
    row = (await conn.execute(
        select(dashboard_sessions.c.user_id, dashboard_sessions.c.csrf_token, dashboard_sessions.c.store_id,
               dashboard_sessions.c.expires_at, dashboard_users.c.username, dashboard_users.c.language)
        .select_from(dashboard_sessions.join(dashboard_users, dashboard_users.c.id == dashboard_sessions.c.user_id))
        .where(dashboard_sessions.c.token_hash == _token_hash(token)))).first()
    if row is None or row.expires_at <= now:
        return None
    members = await conn.execute(
        select(dashboard_members.c.store_id, dashboard_members.c.role, stores.c.slug, stores.c.name)
        .select_from(dashboard_members.join(stores, stores.c.id == dashboard_members.c.store_id))
        .where(dashboard_members.c.user_id == row.user_id).order_by(stores.c.slug))
    return Session(row.user_id, row.username, row.csrf_token, row.store_id,
                   tuple(Membership(m.store_id, m.slug, m.name, Role(m.role)) for m in members), row.language)


async def set_language(conn: AsyncConnection, user_id: int, language: str | None) -> None:
    """The user's dashboard language from now on (one of ``LANGUAGES``); None: follow the browser."""
    if language is not None and language not in LANGUAGES:
        raise UserError(f"language: one of {', '.join(LANGUAGES)}")
    await conn.execute(update(dashboard_users).where(dashboard_users.c.id == user_id).values(language=language))


async def switch_store(conn: AsyncConnection, token: str, store_id: int) -> None:
    await conn.execute(update(dashboard_sessions).where(dashboard_sessions.c.token_hash == _token_hash(token))
                       .values(store_id=store_id))

"""Linking a customer to the LINE user of the store's account, for stores without LINE Login.

LINE issues a link token only for a user id it has given us, so the flow starts in a mail and
passes through the chat with the store's account:

1. A transactional mail links to :func:`line_link_url`: ``/line/link/{store}/{token}``, the token
   signed with the store's key and naming the customer.
2. That page (``web/line_link.py``) makes a one-time code (:func:`open_link`, a ``line_links`` row)
   and opens a chat with the store's account with the code filled in (:func:`chat_url`:
   ``https://line.me/R/oaMessage/{basic_id}/?…``).
3. The customer sends it.  The ``message`` webhook event carries the code and their user id;
   :func:`claim_code` gives the row to that user.
4. afterorder asks LINE for a link token for that user and pushes them a button
   (:func:`prompt_confirm`) to ``/line/link/{store}/confirm?t=…``, ``t`` signed, naming the row and
   the link token.
5. That endpoint makes a nonce for the row (:func:`make_nonce`) and redirects to LINE's
   account-link dialog with the link token and the nonce (:func:`dialog_url`).
6. LINE sends ``accountLink`` with the nonce and the user id: :func:`bind` sets the customer's
   ``line_user_id`` (following).

A code is good for ``LINK_TTL`` from the page view, and once; only the user who sent the code can
spend its nonce.  The code is 8 characters of an alphabet without look-alikes (0/O, 1/I): 40 bits
guessed within an hour through LINE's chat, per store.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.line import PUSH_PATH, issue_link_token
from afterorder.db.schema import customers, line_links, store_channels
from afterorder.db.statements import insert_ignore
from afterorder.feedback.line_state import link_customer
from afterorder.signing import BadToken, Signer

LINK = "line-link"  # signing purpose of the mail link: [customer id]
CONFIRM = "line-link-confirm"  # of the pushed confirm button: [link row id, link token]
LINK_TTL = timedelta(hours=1)
ACCOUNT_LINK_DIALOG = "https://access.line.me/dialog/bot/accountLink"
CHAT = "https://line.me/R/oaMessage/"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE = re.compile(r"(?<![A-Z0-9])([A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4})(?![A-Z0-9])")
_LINK_COLUMNS = ("store_id", "customer_id", "code", "created_at")


# ---- links and tokens ------------------------------------------------------------------------


def line_link_url(base_url: str, store_slug: str, signer: Signer, customer_id: int) -> str:
    """The "Get updates on LINE" link for a customer's mail (label: ``line_link_text.mail_button``)."""
    return f"{base_url.rstrip('/')}/line/link/{quote(store_slug, safe='')}/{signer.sign(LINK, [customer_id])}"


def read_link(signer: Signer, token: str) -> int:
    """The customer a mail link was made for; ``BadToken`` when it was altered or is another store's."""
    found = signer.verify(LINK, token)
    if not (isinstance(found, list) and len(found) == 1 and _is_id(found[0])):
        raise BadToken("the token's payload has the wrong shape")
    return int(found[0])


def confirm_url(base_url: str, store_slug: str, signer: Signer, link_id: int, link_token: str) -> str:
    token = signer.sign(CONFIRM, [link_id, link_token])
    return f"{base_url.rstrip('/')}/line/link/{quote(store_slug, safe='')}/confirm?{urlencode({'t': token})}"


def read_confirm(signer: Signer, token: str) -> tuple[int, str]:
    """(link row id, LINE's link token) of a confirm button."""
    found = signer.verify(CONFIRM, token)
    if not (isinstance(found, list) and len(found) == 2 and _is_id(found[0]) and isinstance(found[1], str)
            and found[1]):
        raise BadToken("the token's payload has the wrong shape")
    return int(found[0]), found[1]


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def chat_url(basic_id: str, text: str) -> str:
    """Opens the chat with the account ``basic_id`` (``@abc1234``) with ``text`` typed in, ready to send."""
    return f"{CHAT}{quote(basic_id, safe='')}/?{quote(text, safe='')}"


def dialog_url(link_token: str, nonce: str) -> str:
    return f"{ACCOUNT_LINK_DIALOG}?{urlencode({'linkToken': link_token, 'nonce': nonce})}"


def new_code() -> str:
    picked = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{picked[:4]}-{picked[4:]}"


def find_code(text: str) -> str | None:
    """The link code in a chat message, if it holds one (typed in lower case or not)."""
    found = _CODE.search(text.upper())
    return found.group(1) if found else None


# ---- the store's account ---------------------------------------------------------------------


async def line_basic_id(conn: AsyncConnection, store_id: int) -> str | None:
    """The basic id (``@abc1234``) of the store's LINE account, from its channel setup (a plain option)."""
    rows = await conn.execute(select(store_channels.c.settings).where(
        store_channels.c.store_id == store_id, store_channels.c.provider == "line"))
    for row in rows:
        basic_id = (row.settings or {}).get("basic_id")
        if isinstance(basic_id, str) and basic_id.strip():
            return basic_id.strip()
    return None


# ---- the rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A code sent from LINE by ``user_id``, for the customer it was made for."""

    link_id: int
    customer_id: int
    user_id: str
    locale: str | None  # the customer's


async def open_link(conn: AsyncConnection, store_id: int, customer_id: int, now: datetime) -> str:
    """The customer's code: the one shown before if it is still fresh and unclaimed, else a new one."""
    fresh = (await conn.execute(select(line_links.c.code).where(
        line_links.c.store_id == store_id, line_links.c.customer_id == customer_id,
        line_links.c.used_at.is_(None), line_links.c.line_user_id.is_(None),
        line_links.c.created_at > now - LINK_TTL / 2).order_by(line_links.c.id.desc()).limit(1))).scalar()
    if fresh is not None:
        return str(fresh)
    while True:  # a code already taken in this store (1 in 2^40 per row) is drawn again
        code = new_code()
        made = await conn.execute(insert_ignore(line_links, _LINK_COLUMNS, ("id",)), {
            "store_id": store_id, "customer_id": customer_id, "code": code, "created_at": now})
        if made.first() is not None:
            return code


async def claim_code(conn: AsyncConnection, store_id: int, code: str, user_id: str, now: datetime) -> Claim | None:
    """Give a fresh, unspent code to the LINE user who sent it (again, if it is theirs already)."""
    row = (await conn.execute(
        select(line_links.c.id, line_links.c.customer_id, line_links.c.line_user_id, customers.c.locale)
        .select_from(line_links.join(customers, customers.c.id == line_links.c.customer_id))
        .where(line_links.c.store_id == store_id, line_links.c.code == code, line_links.c.used_at.is_(None),
               line_links.c.created_at > now - LINK_TTL))).first()
    if row is None or row.line_user_id not in (None, user_id):
        return None
    await conn.execute(line_links.update().where(line_links.c.id == row.id).values(line_user_id=user_id))
    return Claim(row.id, row.customer_id, user_id, row.locale)


async def make_nonce(conn: AsyncConnection, store_id: int, link_id: int, now: datetime) -> str | None:
    """A new nonce for a claimed, fresh, unspent link (None when it is not one)."""
    nonce = secrets.token_urlsafe(18)  # LINE asks for at least 128 bits
    made = await conn.execute(line_links.update().where(
        line_links.c.store_id == store_id, line_links.c.id == link_id, line_links.c.used_at.is_(None),
        line_links.c.line_user_id.is_not(None), line_links.c.created_at > now - LINK_TTL,
    ).values(nonce=nonce))
    return nonce if made.rowcount else None


async def bind(conn: AsyncConnection, store_id: int, nonce: str, user_id: str, at: datetime,
               now: datetime) -> int | None:
    """LINE linked ``user_id`` for ``nonce``: the link's customer is that user; returns the customer's id."""
    row = (await conn.execute(select(line_links.c.id, line_links.c.customer_id).where(
        line_links.c.store_id == store_id, line_links.c.nonce == nonce, line_links.c.used_at.is_(None),
        line_links.c.line_user_id == user_id))).first()
    if row is None:
        return None
    await conn.execute(line_links.update().where(line_links.c.id == row.id).values(used_at=now))
    await link_customer(conn, store_id, row.customer_id, user_id, at)
    return int(row.customer_id)


# ---- asking LINE -------------------------------------------------------------------------------


class LinePushError(Exception):
    """LINE did not take the pushed message; the message says what it answered."""


@dataclass(frozen=True)
class LineAccount:
    """What it takes to call the store's LINE channel."""

    client: httpx.AsyncClient
    api_base: str
    access_token: str


def confirm_message(words: dict[str, str], url: str) -> dict[str, Any]:
    """A buttons template: the words ``push`` and one button (``push_label``) opening ``url``."""
    return {"type": "template", "altText": words["push"][:400], "template": {
        "type": "buttons", "text": words["push"][:160],
        "actions": [{"type": "uri", "label": words["push_label"][:20], "uri": url}]}}


async def push(account: LineAccount, user_id: str, messages: list[dict[str, Any]], retry_key: uuid.UUID) -> None:
    """``POST /v2/bot/message/push``; a 409 (this retry key was accepted before) counts as done."""
    try:
        response = await account.client.post(
            f"{account.api_base.rstrip('/')}{PUSH_PATH}", json={"to": user_id, "messages": messages},
            headers={"Authorization": f"Bearer {account.access_token}", "X-Line-Retry-Key": str(retry_key)})
    except httpx.HTTPError as exc:
        raise LinePushError(f"no answer from {account.api_base}: {type(exc).__name__}") from exc
    if not (response.is_success or response.status_code == 409):
        raise LinePushError(f"LINE answered {response.status_code}: {response.text[:200]}")


async def prompt_confirm(account: LineAccount, claim: Claim, url_for: Callable[[str], str], words: dict[str, str],
                         retry_key: uuid.UUID) -> None:
    """Ask LINE for a link token for the claim's user and push them the confirm button (``url_for(token)``).

    Raises ``channels.line.LineApiError`` (no link token) or ``LinePushError`` (the push refused or
    unanswered)."""
    token = await issue_link_token(account.client, account.api_base, account.access_token, claim.user_id)
    await push(account, claim.user_id, [confirm_message(words, url_for(token))], retry_key)

"""What a customer's SMS reply does: the keywords US and Canadian carriers require a sender to honour.

The whole trimmed body is the keyword, in any case ("stop", " Stop "); anything else is ordinary
text and changes nothing.

* ``STOP``, ``STOPALL``, ``UNSUBSCRIBE``, ``CANCEL``, ``END``, ``QUIT`` → the number is suppressed
  for marketing at once (the suppression list, reason ``unsubscribe``: delivery checks it before
  every marketing send) and SMS marketing consent is withdrawn for every customer of the store
  with that phone, each change recorded (method ``sms_keyword``, the reply as the wording);
* ``START``, ``UNSTOP`` → that suppression is lifted and the consent granted again, recorded the
  same way;
* ``HELP``, ``INFO`` → the answer is the store's help text (``store_channel_settings.sms_help``,
  ``afterorder channels`` sets it), else one naming the store and how to reach it.

Phone numbers are E.164 (``+14155550100``), as ``customers.phone`` holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.channels.setup import load_prefs
from afterorder.compliance.consent import MARKETING, Change, ConsentMethod, ConsentStatus, record
from afterorder.compliance.suppression import Reason, lift, suppress
from afterorder.content.i18n import resolve_locale
from afterorder.db.schema import customers
from afterorder.db.stores import StoreRow

SMS = "sms"


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


KEYWORDS = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), Keyword.STOP),
    **dict.fromkeys(("START", "UNSTOP"), Keyword.START),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}
_HELP = {
    "en": "{store}: for help contact {contact}. Reply STOP to unsubscribe.",
    "ja": "{store}：お問い合わせは{contact}まで。配信停止はSTOPと返信してください。",
    "zh-Hans": "{store}：如需帮助请联系{contact}。回复STOP退订。",
}


def keyword(body: str) -> Keyword | None:
    return KEYWORDS.get(body.strip().upper())


@dataclass(frozen=True)
class Reply:
    keyword: Keyword | None
    answer: str | None = None  # the text to send back (HELP), None for no answer
    consent_changes: int = 0


async def customers_with_phone(conn: AsyncConnection, store_id: int, phone: str) -> list[int]:
    rows = await conn.execute(select(customers.c.id).where(customers.c.store_id == store_id,
                                                           customers.c.phone == phone))
    return [r.id for r in rows]


async def _consent(conn: AsyncConnection, store_id: int, phone: str, status: ConsentStatus, wording: str,
                   now: datetime) -> int:
    ids = await customers_with_phone(conn, store_id, phone)
    changed = await record(conn, [Change(store_id, c, status, ConsentMethod.SMS_KEYWORD, SMS, MARKETING,
                                         wording=wording) for c in ids], now)
    return len(changed)


async def stop(conn: AsyncConnection, store_id: int, phone: str, body: str, source: str, now: datetime) -> int:
    """Suppress ``phone`` for marketing and withdraw its customers' SMS consent; returns the consents changed."""
    await suppress(conn, store_id, phone, Reason.UNSUBSCRIBE, source=source, now=now,
                   detail=f"SMS reply {body.strip()[:20]!r}")
    return await _consent(conn, store_id, phone, ConsentStatus.WITHDRAWN, f"SMS reply: {body.strip()[:20]}", now)


async def start(conn: AsyncConnection, store_id: int, phone: str, body: str, now: datetime) -> int:
    """Lift ``phone``'s marketing suppression and grant its customers' SMS consent again."""
    await lift(conn, store_id, phone, Reason.UNSUBSCRIBE)
    return await _consent(conn, store_id, phone, ConsentStatus.GRANTED, f"SMS reply: {body.strip()[:20]}", now)


async def help_text(conn: AsyncConnection, store: StoreRow) -> str:
    own = (await load_prefs(conn, [store.id]))[store.id].sms_help
    if own:
        return own
    contact = store.support_email or store.support_phone or store.support_url or store.reply_to or store.email_from
    locale = resolve_locale(store.locale, list(_HELP), "en")
    return _HELP[locale].replace("{store}", store.name).replace("{contact}", contact)


async def handle(engine: AsyncEngine, store: StoreRow, phone: str, body: str, source: str, now: datetime) -> Reply:
    """Do what the reply ``body`` from ``phone`` asks (see the module docstring)."""
    found = keyword(body)
    async with engine.begin() as conn:
        if found is Keyword.STOP:
            return Reply(found, consent_changes=await stop(conn, store.id, phone, body, source, now))
        if found is Keyword.START:
            return Reply(found, consent_changes=await start(conn, store.id, phone, body, now))
        if found is Keyword.HELP:
            return Reply(found, answer=await help_text(conn, store))
    return Reply(None)

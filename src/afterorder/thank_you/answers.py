"""What a customer does in the thank-you block: subscribe to the newsletter, answer the survey.

Both are idempotent: the same request twice stores one thing.

* ``subscribe``: marketing consent by email, recorded through ``compliance.consent`` with the method
  ``thank-you-page``, the wording the block showed (in the locale it showed it) and the customer's
  address.  ``granted``; ``pending`` when the store asks for double opt-in (the confirmation mail is
  written by the runtime's loop, ``privacy.double_opt_in``).  A customer already subscribed (or
  waiting to confirm) changes nothing; one who had withdrawn and presses the button again is a new
  act of consent.
* ``answer``: the "how did you hear about us" survey (``surveys.answers``, survey ``heard-about``,
  one answer per order, which becomes a ``survey.answered`` event).  The first answer stands: the same
  answer again changes nothing, another one is refused with the one kept (``AlreadyAnswered``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from afterorder.compliance.consent import EMAIL, MARKETING, Change, ConsentMethod, ConsentStatus, current, record
from afterorder.compliance.settings import load_one
from afterorder.content import Renderer
from afterorder.db.stores import StoreRow
from afterorder.intake.pipeline import Intake
from afterorder.order_page.links import OrderRef
from afterorder.surveys import answers as surveys
from afterorder.thank_you.block import order_customer, survey_subject
from afterorder.thank_you.text import SURVEY, block_text


class Unavailable(Exception):
    """The order has no customer (or the customer no email address) to do this for."""


class Gone(Exception):
    """No such order, or a revoked link."""


@dataclass(frozen=True)
class AlreadyAnswered(Exception):
    answer: str


@dataclass(frozen=True)
class Subscribed:
    status: str  # granted / pending
    changed: bool


@dataclass(frozen=True)
class Answered:
    answer: str
    changed: bool


async def subscribe(engine: Any, store: StoreRow, ref: OrderRef, locale: str, source_ip: str | None,
                    now: datetime) -> Subscribed:
    async with engine.begin() as conn:
        found = await order_customer(conn, store, ref)
        if found is None:
            raise Gone
        if found.customer_id is None or not found.email:
            raise Unavailable
        before = (await current(conn, store.id, [found.customer_id])).get((found.customer_id, EMAIL, MARKETING))
        if before in (ConsentStatus.GRANTED, ConsentStatus.PENDING):
            return Subscribed(str(before), False)
        status = ConsentStatus.PENDING if (await load_one(conn, store.id)).double_opt_in else ConsentStatus.GRANTED
        wording = block_text(locale, store=store.name)["newsletter_wording"]
        changed = await record(conn, [Change(store.id, found.customer_id, status, ConsentMethod.THANK_YOU_PAGE,
                                             wording=wording, source_ip=source_ip)], now)
    return Subscribed(status.value, bool(changed))


async def answer(intake: Intake, engine: Any, renderer: Renderer, store: StoreRow, base_url: str, ref: OrderRef,
                 choice: str, now: datetime) -> Answered:
    async with engine.connect() as conn:
        found = await order_customer(conn, store, ref)
        if found is None:
            raise Gone
        subject = survey_subject(found)
        if subject is None:
            raise Unavailable
        kept = ((await surveys.current(conn, store.id, subject)) or {}).get("answers", {}).get(SURVEY)
    if isinstance(kept, str):
        if kept != choice:
            raise AlreadyAnswered(kept)
        return Answered(kept, False)
    recorded = await surveys.record(intake, engine, renderer, store, base_url, subject, now,
                                    answers={SURVEY: choice})
    return Answered(choice, recorded.changed)

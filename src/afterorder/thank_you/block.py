"""What the thank-you block shows for one order: read from the database, in the customer's locale.

``load_block`` reads the order an order-page token names (``order_page.links.read_token`` has checked
the signature and the date; here the link's version is checked against the order, so a revoked link
gets nothing) and makes a :class:`BlockJson`: the store's name and colour, the words, the store's
cross-sell picks for the order (the order page's: ``promotions.recommendations``), the LINE
opt-in (a link into the LINE linking flow, when the store has a LINE account and the customer is
not linked yet), the newsletter opt-in (when the customer has an email address; with the consent
state so far) and the one-question survey (with the answer so far).  Nothing else of the order or
the customer leaves: no number, item, address or email address.

The locale is the customer's, else the host page's ``lang``, else the store's (``locale_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.consent import EMAIL, MARKETING, current
from afterorder.db.schema import customers, orders
from afterorder.db.stores import StoreRow
from afterorder.feedback.line_link import line_basic_id, line_link_url
from afterorder.order_page.links import OrderRef
from afterorder.order_page.view import load_view
from afterorder.signing import Signer
from afterorder.surveys.answers import Subject
from afterorder.surveys.answers import current as survey_answer
from afterorder.thank_you.text import CHOICES, SURVEY, block_text


@dataclass(frozen=True)
class OrderCustomer:
    """The order a token names (when its version is the order's) and its customer."""

    order_id: int
    customer_id: int | None
    email: str | None
    locale: str | None
    line_user_id: str | None


class PickJson(TypedDict):
    title: str
    price: str
    image_url: str
    url: str | None


class ChoiceJson(TypedDict):
    value: str
    label: str


class NewsletterJson(TypedDict):
    status: str | None  # granted / pending / withdrawn, None when never asked


class SurveyJson(TypedDict):
    question: str
    choices: list[ChoiceJson]
    answer: str | None


class BlockJson(TypedDict):
    locale: str
    store: str
    color: str
    text_color: str
    text: dict[str, str]
    picks: list[PickJson]
    line_url: str | None
    newsletter: NewsletterJson | None
    survey: SurveyJson | None


async def order_customer(conn: AsyncConnection, store: StoreRow, ref: OrderRef) -> OrderCustomer | None:
    """The order ``ref`` names and its customer; None for no such order or a revoked link."""
    row = (await conn.execute(
        select(orders.c.id, orders.c.customer_id, orders.c.page_version, customers.c.email, customers.c.locale,
               customers.c.line_user_id)
        .select_from(orders.outerjoin(customers, (customers.c.id == orders.c.customer_id)
                                      & (customers.c.store_id == orders.c.store_id)))
        .where(orders.c.store_id == store.id, orders.c.id == ref.order_id))).first()
    if row is None or row.page_version != ref.version:
        return None
    return OrderCustomer(int(row.id), row.customer_id, row.email, row.locale, row.line_user_id)


def survey_subject(found: OrderCustomer) -> Subject | None:
    return None if found.customer_id is None else Subject(SURVEY, found.customer_id, found.order_id)


async def load_block(conn: AsyncConnection, store: StoreRow, signer: Signer, ref: OrderRef,
                     locale_of: Callable[[str | None], str], now: datetime, base_url: str) -> BlockJson | None:
    """The block of the order ``ref`` names, or None (no such order of this store; a revoked link).
    ``locale_of(customer_locale)`` picks the locale (the web side adds the page's and the store's)."""
    found = await order_customer(conn, store, ref)
    if found is None:
        return None
    view = await load_view(conn, store, ref, locale_of, now)
    if view is None:
        return None
    t = block_text(view.locale, store=store.name)
    line_url = newsletter = survey = None
    if found.customer_id is not None:
        if found.line_user_id is None and await line_basic_id(conn, store.id) is not None:
            line_url = line_link_url(base_url, store.slug, signer, found.customer_id)
        if found.email:
            status = (await current(conn, store.id, [found.customer_id])).get(
                (found.customer_id, EMAIL, MARKETING))
            newsletter = NewsletterJson(status=status)
        subject = survey_subject(found)
        assert subject is not None
        answered = await survey_answer(conn, store.id, subject)
        answer = (answered or {}).get("answers", {}).get(SURVEY) if answered else None
        survey = SurveyJson(question=t["survey"], answer=answer if isinstance(answer, str) else None,
                            choices=[ChoiceJson(value=c, label=t[f"choice.{c}"]) for c in CHOICES])
    return BlockJson(
        locale=view.locale, store=store.name, color=view.brand_color, text_color=view.brand_text,
        text={k: v for k, v in t.items() if not k.startswith("choice.") and k != "survey"},
        picks=[PickJson(title=p.title, price=p.price, image_url=p.image_url, url=p.url) for p in view.picks],
        line_url=line_url, newsletter=newsletter, survey=survey)

"""The development inbox: what the demo's receivers got, in three tabs.

* ``/inbox`` — mails of the development SMTP server (``/inbox/{id}``: one mail, its HTML and text);
* ``/inbox/line`` — the local LINE's pushes as chats, one per LINE user: Flex cards and text bubbles
  drawn as the template previews draw them (``content/flex_html.py``: every value escaped, links only
  http(s), images only https), the altText as the notification line;
* ``/inbox/sms`` — the local Twilio's messages as phone threads, one per number, with each text's
  time, segments and encoding.

Each conversation is headed by the customer it went to, when a store knows that LINE user or phone
number.  Only there with ``--dev-smtp`` (the LINE and SMS tabs with ``afterorder demo``); the page
loads nothing from elsewhere (its style is inline, it has no scripts), only the images a message shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from starlette.responses import Response

from afterorder.content.flex_html import line_html
from afterorder.db.schema import customers, stores
from afterorder.dev.conversations import line_chats, sms_threads
from afterorder.dev.inbox import ReceivedMail
from afterorder.dev.receivers import DevReceivers
from afterorder.runtime import Runtime
from afterorder.web.errors import error
from afterorder.web.pages import page

router = APIRouter(include_in_schema=False)
SHOWN_HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "X-Afterorder-Category")
MAX_MAILS = 500
FAMILY_NAME_FIRST = ("ja", "zh", "ko")


def _dev(request: Request) -> DevReceivers | Response:
    dev: DevReceivers | None = request.app.state.dev
    if dev is None:
        return error(404, "no_inbox", "the inbox exists only with the built-in development SMTP server (--dev-smtp)")
    return dev


def _header(mail: ReceivedMail, name: str) -> str:
    return next((v for k, v in mail.headers if k.lower() == name.lower()), "")


def _tabs(dev: DevReceivers) -> list[dict[str, Any]]:
    tabs = [{"id": "mail", "label": "Mail", "href": "/inbox", "count": dev.inbox.count()}]
    if dev.line is not None:
        tabs.append({"id": "line", "label": "LINE", "href": "/inbox/line", "count": len(dev.line.accepted)})
    if dev.sms is not None:
        tabs.append({"id": "sms", "label": "SMS", "href": "/inbox/sms", "count": len(dev.sms.accepted)})
    return tabs


def _tab(request: Request, dev: DevReceivers, tab: str, name: str, **context: Any) -> Response:
    return page(request, name, title=f"Inbox · {tab.upper() if tab == 'sms' else tab.capitalize()}",
                tab=tab, tabs=_tabs(dev), **context)


@router.get("/inbox")
async def inbox_page(request: Request) -> Response:
    dev = _dev(request)
    if isinstance(dev, Response):
        return dev
    return _tab(request, dev, "mail", "inbox.html", mails=dev.inbox.all()[:MAX_MAILS], header=_header)


@router.get("/inbox/line")
async def line_page(request: Request) -> Response:
    dev = _dev(request)
    if isinstance(dev, Response):
        return dev
    if dev.line is None:
        return error(404, "no_line", "the local LINE runs only with afterorder demo")
    chats = line_chats(dev.line.accepted)
    people = await _people(request.app.state.runtime, line_ids=[c.to for c in chats if not c.notification])
    return _tab(request, dev, "line", "inbox_line.html", chats=chats, people=people, line_html=line_html)


@router.get("/inbox/sms")
async def sms_page(request: Request) -> Response:
    dev = _dev(request)
    if isinstance(dev, Response):
        return dev
    if dev.sms is None:
        return error(404, "no_sms", "the local SMS provider runs only with afterorder demo")
    threads = sms_threads(dev.sms.accepted)
    people = await _people(request.app.state.runtime, phones=[t.to for t in threads])
    return _tab(request, dev, "sms", "inbox_sms.html", threads=threads, people=people)


@router.get("/inbox/{mail_id}")
async def mail_page(request: Request, mail_id: int) -> Response:
    dev = _dev(request)
    mail = dev.inbox.get(mail_id) if isinstance(dev, DevReceivers) else None
    if mail is None:
        return error(404, "not_found", f"no mail #{mail_id} in the inbox")
    return page(request, "mail.html", title=mail.subject, mail=mail, shown=SHOWN_HEADERS)


async def _people(runtime: Runtime, *, line_ids: Iterable[str] = (), phones: Iterable[str] = ()) -> dict[str, str]:
    """LINE user id or phone number → "name · store" of the customer a store knows by it."""
    users, numbers = set(line_ids), set(phones)
    if not users and not numbers:
        return {}
    query = (select(customers.c.line_user_id, customers.c.phone, customers.c.first_name, customers.c.last_name,
                    customers.c.locale, stores.c.slug)
             .join(stores, stores.c.id == customers.c.store_id)
             .where(or_(customers.c.line_user_id.in_(sorted(users)), customers.c.phone.in_(sorted(numbers))))
             .order_by(customers.c.id))
    found: dict[str, str] = {}
    async with runtime.engine.connect() as conn:
        for r in await conn.execute(query):
            who = f"{_name(r.first_name, r.last_name, r.locale)} · {r.slug}"
            for address in (r.line_user_id, r.phone):
                if address in users | numbers:
                    found.setdefault(address, who)
    return found


def _name(first: str | None, last: str | None, locale: str | None) -> str:
    parts = [last, first] if (locale or "").split("-")[0] in FAMILY_NAME_FIRST else [first, last]
    return " ".join(p for p in parts if p) or "a customer"

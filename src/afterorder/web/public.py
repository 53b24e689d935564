"""Public pages reached from mail, with no login or cookie: each link carries a token signed with
the store's key.

* ``/u/STORE/TOKEN`` — unsubscribe (RFC 8058).  ``POST`` with the form field
  ``List-Unsubscribe=One-Click`` (``application/x-www-form-urlencoded`` or ``multipart/form-data``)
  unsubscribes at once and answers 200 with a short page, never a redirect.  ``GET`` only shows
  a page with a button that makes that POST: mail scanners and link previews open links, so a GET
  never unsubscribes.
* ``/preferences/STORE/TOKEN`` — the preference centre: channels and topics.  Its form carries a
  second signed token (the customer and when the form was shown, valid for a day), so the POST
  cannot be forged from another site and needs no cookie.
* ``/confirm/STORE/TOKEN`` — double opt-in: the page's button (a POST) grants the consent.

A token that was altered, cut short, signed for another purpose or store gets 400 and changes
nothing.
"""

from __future__ import annotations

import email.parser
import email.policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from afterorder.compliance import tokens
from afterorder.compliance.consent import (
    CHANNELS,
    EMAIL,
    MARKETING,
    TOPICS,
    Change,
    ConsentMethod,
    ConsentStatus,
    record,
)
from afterorder.compliance.preferences import Preferences, load_preferences, save_preferences
from afterorder.compliance.unsubscribe import Customer, announce, find_customer, unsubscribe
from afterorder.db.stores import StoreRow, get_store
from afterorder.runtime import Runtime
from afterorder.signing import BadToken
from afterorder.web.public_text import page_locale, page_text

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
MAX_FORM = 64 * 1024
FORM_MAX_AGE = 24 * 3600
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class _Refused(Exception):
    def __init__(self, key: str, status: int = 400, **values: str) -> None:
        self.key, self.status, self.values = key, status, values


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _page(locale: str, status: int, store_name: str, title: str, lines: list[str], **context: Any) -> HTMLResponse:
    html = _env.get_template("public/page.html").render(locale=locale, store_name=store_name, title=title,
                                                        lines=lines, **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _refusal(request: Request, exc: _Refused, store: StoreRow | None) -> HTMLResponse:
    locale = page_locale(request.headers.get("accept-language", "").split(",")[0].split(";")[0] or None,
                         store.locale if store else None)
    t = page_text(locale, **exc.values)
    return _page(locale, exc.status, store.name if store else "afterorder", t["unsubscribe_title"]
                 if request.url.path.startswith("/u/") else t["preferences_title"], [t[exc.key]])


async def _store(request: Request, slug: str) -> StoreRow:
    async with _runtime(request).engine.connect() as conn:
        store = await get_store(conn, slug)
    if store is None:
        raise _Refused("bad_link")
    return store


async def _customer(request: Request, store: StoreRow, customer_id: int) -> Customer:
    customer = await find_customer(_runtime(request).engine, store.id, customer_id)
    if customer is None:
        raise _Refused("bad_link")
    return customer


async def _form(request: Request) -> dict[str, list[str]]:
    """The fields of a form POST, urlencoded or multipart (RFC 8058 allows both)."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM:
            raise _Refused("bad_request", 413, reason="the form is too large")
    kind = request.headers.get("content-type", "application/x-www-form-urlencoded")
    if kind.lower().startswith("multipart/form-data"):
        head = f"Content-Type: {kind}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + bytes(body))
        fields: dict[str, list[str]] = {}
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if isinstance(name, str) and isinstance(payload, bytes):
                    fields.setdefault(name, []).append(payload.decode("utf-8", "replace").strip())
        return fields
    try:
        return parse_qs(bytes(body).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise _Refused("bad_request", reason="the form is not UTF-8") from None


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---- unsubscribe -------------------------------------------------------------------------------


@router.get("/u/{slug}/{token}")
async def unsubscribe_page(request: Request, slug: str, token: str) -> HTMLResponse:
    store = None
    try:
        store = await _store(request, slug)
        ref = tokens.read_unsubscribe(_runtime(request).signers.of(store), token)
        customer = await _customer(request, store, ref.customer_id)
    except BadToken:
        return _refusal(request, _Refused("bad_link"), store)
    except _Refused as exc:
        return _refusal(request, exc, store)
    locale = page_locale(customer.locale, store.locale)
    t = page_text(locale, store=store.name, email=customer.email or "")
    prefs = f"/preferences/{store.slug}/{tokens.preferences_token(_runtime(request).signers.of(store), customer.id)}"
    return _page(locale, 200, store.name, t["unsubscribe_title"], [t["unsubscribe_ask"]], form="unsubscribe",
                 action=request.url.path, t=t, link={"url": prefs, "label": t["preferences_link"]})


@router.post("/u/{slug}/{token}")
async def unsubscribe_post(request: Request, slug: str, token: str) -> HTMLResponse:
    store = None
    try:
        store = await _store(request, slug)
        ref = tokens.read_unsubscribe(_runtime(request).signers.of(store), token)
        fields = await _form(request)
        if fields.get("List-Unsubscribe") != ["One-Click"]:
            raise _Refused("bad_request", reason="the body must be List-Unsubscribe=One-Click")
        customer = await _customer(request, store, ref.customer_id)
    except BadToken:
        return _refusal(request, _Refused("bad_link"), store)
    except _Refused as exc:
        return _refusal(request, exc, store)
    from_page = fields.get("source") == ["page"]
    runtime = _runtime(request)
    await unsubscribe(
        runtime.engine, runtime.intake, store, ref,
        method=ConsentMethod.UNSUBSCRIBE_LINK if from_page else ConsentMethod.ONE_CLICK,
        wording="unsubscribe page button" if from_page else "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        source_ip=_ip(request), now=runtime.clock.now())
    runtime.poke()
    locale = page_locale(customer.locale, store.locale)
    t = page_text(locale, store=store.name, email=customer.email or "")
    prefs = f"/preferences/{store.slug}/{tokens.preferences_token(_runtime(request).signers.of(store), customer.id)}"
    return _page(locale, 200, store.name, t["unsubscribe_title"], [t["unsubscribed"]],
                 link={"url": prefs, "label": t["preferences_link"]})


# ---- preference centre -------------------------------------------------------------------------


@router.get("/preferences/{slug}/{token}")
async def preferences_page(request: Request, slug: str, token: str) -> HTMLResponse:
    store = None
    try:
        store = await _store(request, slug)
        customer = await _customer(request, store, tokens.read_preferences(_runtime(request).signers.of(store), token))
    except BadToken:
        return _refusal(request, _Refused("bad_link"), store)
    except _Refused as exc:
        return _refusal(request, exc, store)
    runtime = _runtime(request)
    async with runtime.engine.connect() as conn:
        shown = await load_preferences(conn, store.id, customer.id)
    return _preferences(request, store, customer, shown, saved=False)


def _preferences(request: Request, store: StoreRow, customer: Customer, shown: Preferences, *,
                 saved: bool) -> HTMLResponse:
    locale = page_locale(customer.locale, store.locale)
    t = page_text(locale, store=store.name, email=customer.email or "")
    issued = int(_runtime(request).clock.now().timestamp())
    lines = [t["saved"]] if saved else [t["preferences_intro"]]
    return _page(locale, 200, store.name, t["preferences_title"], lines, form="preferences",
                 action=request.url.path, t=t, channels=shown.channels, topics=shown.topics,
                 form_token=tokens.form_token(_runtime(request).signers.of(store), customer.id, issued))


@router.post("/preferences/{slug}/{token}")
async def preferences_post(request: Request, slug: str, token: str) -> HTMLResponse:
    store = None
    runtime = _runtime(request)
    try:
        store = await _store(request, slug)
        customer_id = tokens.read_preferences(_runtime(request).signers.of(store), token)
        fields = await _form(request)
        form_customer, issued = tokens.read_form(_runtime(request).signers.of(store), (fields.get("form") or [""])[0])
        age = runtime.clock.now().timestamp() - issued
        if form_customer != customer_id:
            raise BadToken("the form belongs to another customer")
        if not -300 <= age <= FORM_MAX_AGE:
            raise _Refused("expired_form")
        unknown = set(fields.get("channel", [])) - set(CHANNELS) or set(fields.get("topic", [])) - set(TOPICS)
        if unknown:
            raise _Refused("bad_request", reason=f"unknown choice {sorted(unknown)[0]!r}")
        customer = await _customer(request, store, customer_id)
    except BadToken:
        return _refusal(request, _Refused("bad_link"), store)
    except _Refused as exc:
        return _refusal(request, exc, store)
    chosen = Preferences({c: c in fields.get("channel", []) for c in CHANNELS},
                         {t: t in fields.get("topic", []) for t in TOPICS})
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        changes = await save_preferences(conn, store.id, customer.id, chosen, wording="preference centre form",
                                         source_ip=_ip(request), now=now)
        shown = await load_preferences(conn, store.id, customer.id)
    if any(c.channel == EMAIL and c.purpose == MARKETING and c.status is ConsentStatus.WITHDRAWN for c in changes):
        await announce(runtime.intake, store, customer.id, customer.external_id, ConsentMethod.PREFERENCE_CENTRE, now)
    return _preferences(request, store, customer, shown, saved=True)


# ---- double opt-in -----------------------------------------------------------------------------


@router.get("/confirm/{slug}/{token}")
async def confirm_page(request: Request, slug: str, token: str) -> HTMLResponse:
    store = None
    try:
        store = await _store(request, slug)
        customer = await _customer(request, store, tokens.read_confirm(_runtime(request).signers.of(store), token))
    except BadToken:
        return _refusal(request, _Refused("bad_link"), store)
    except _Refused as exc:
        return _refusal(request, exc, store)
    locale = page_locale(customer.locale, store.locale)
    t = page_text(locale, store=store.name, email=customer.email or "")
    return _page(locale, 200, store.name, t["confirm_title"], [t["confirm_ask"]], form="confirm",
                 action=request.url.path, t=t)


@router.post("/confirm/{slug}/{token}")
async def confirm_post(request: Request, slug: str, token: str) -> HTMLResponse:
    store = None
    try:
        store = await _store(request, slug)
        customer = await _customer(request, store, tokens.read_confirm(_runtime(request).signers.of(store), token))
    except BadToken:
        return _refusal(request, _Refused("bad_link"), store)
    except _Refused as exc:
        return _refusal(request, exc, store)
    locale = page_locale(customer.locale, store.locale)
    t = page_text(locale, store=store.name, email=customer.email or "")
    runtime = _runtime(request)
    async with runtime.engine.begin() as conn:
        await record(conn, [Change(store.id, customer.id, ConsentStatus.GRANTED, ConsentMethod.DOUBLE_OPT_IN,
                                   wording=t["confirm_ask"], source_ip=_ip(request))], runtime.clock.now())
    return _page(locale, 200, store.name, t["confirm_title"], [t["confirmed"]])

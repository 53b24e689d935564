"""Preview and test send in the admin API (Bearer store key):

- ``GET /api/v1/flows/{flow}/steps/{step}/preview?locale=ja[&customer=ID][&channel=email|line|sms][&format=html|text]``:
  the message as JSON, or its HTML / text alone.  Email: subject, html, text.  LINE: ``alt_text`` and
  ``messages`` (the LINE message objects); ``format=html`` draws the card.  SMS: ``text`` (links already
  short), ``encoding``, ``segments``, ``warning`` (above 3 segments) and ``params``;
- ``POST /api/v1/flows/{flow}/steps/{step}/send-test`` ``{"to": ADDR, "locale": "ja", "customer": ID}``: sends
  it through the server's mail channel with ``[TEST]`` before the subject.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from jinja2 import TemplateError
from sqlalchemy import select
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from afterorder.audit import sources
from afterorder.audit.log import Action, Change, record
from afterorder.channels.base import ChannelKind
from afterorder.channels.line_limits import LineLimitError
from afterorder.content.flex_html import line_html
from afterorder.content.line import LineRendered
from afterorder.content.sms import SmsRendered
from afterorder.db.schema import customers
from afterorder.flows.preview import Preview, PreviewError, build_preview, send_test
from afterorder.intake.limits import Refused, read_json
from afterorder.web.api import StoreDep, read_limited, runtime_of
from afterorder.web.errors import error
from afterorder.web.openapi_errors import JSON_BODY, NOT_FOUND

router = APIRouter(prefix="/api/v1")

SEND_TEST = {"type": "object", "required": ["to"], "properties": {
    "to": {"type": "string", "format": "email"}, "locale": {"type": "string"}, "customer": {"type": "string"}}}


async def _preview(request: Request, store: Any, flow: str, step: str, locale: str,
                   customer: str | None, channel: ChannelKind = ChannelKind.EMAIL) -> Preview | Response:
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        customer_id = None
        if customer:
            row = (await conn.execute(select(customers.c.id).where(
                customers.c.store_id == store.id, customers.c.external_id == customer))).first()
            if row is None:
                return error(404, "unknown_customer", f"store {store.slug!r} has no customer {customer!r}")
            customer_id = int(row.id)
        try:
            return await build_preview(conn, runtime.catalog, runtime.renderer, store, runtime.settings.base_url,
                                       flow, step, locale, runtime.clock.now(), customer_id, channel,
                                       signer=runtime.signers.of(store))
        except PreviewError as exc:
            return error(404, "not_found", str(exc))
        except TemplateError as exc:
            return error(422, "template_error", f"the template does not render: {exc}")
        except LineLimitError as exc:
            return error(422, "line_limit", str(exc))
        finally:
            await conn.rollback()


def _rendering(found: Preview) -> dict[str, Any]:
    message = found.message
    if isinstance(message, LineRendered):
        return {"alt_text": message.alt_text, "messages": message.messages}
    if isinstance(message, SmsRendered):
        return {"text": message.text, "encoding": message.encoding, "segments": message.segments,
                "warning": message.warning, "params": message.params}
    return {"subject": message.subject, "html": message.html, "text": message.text}


def _body(found: Preview) -> dict[str, Any]:
    return {"flow": found.flow, "step": found.step, "template": found.template, "category": found.category,
            "locale": found.locale, "sample": found.sample, "channel": found.channel.value, **_rendering(found)}


def _as_text(found: Preview) -> str:
    message = found.message
    if isinstance(message, LineRendered):
        return f"altText: {message.alt_text}\n\n{json.dumps(message.messages, ensure_ascii=False, indent=2)}\n"
    if isinstance(message, SmsRendered):
        return f"{message.text}\n"
    return f"Subject: {message.subject}\n\n{message.text}"


def _as_html(found: Preview) -> Response:
    message = found.message
    if isinstance(message, LineRendered):
        return HTMLResponse(f'<!DOCTYPE html><meta charset="utf-8">{line_html(message.messages)}')
    if isinstance(message, SmsRendered):
        return error(422, "invalid", "format=html: an SMS is plain text; use format=text or json")
    return HTMLResponse(message.html)


@router.get("/flows/{flow}/steps/{step}/preview", response_model=None, responses=NOT_FOUND)
async def preview(request: Request, store: StoreDep, flow: str, step: str, locale: str = "ja",
                  customer: str | None = None,
                  format: Annotated[str, Query(json_schema_extra={"enum": ["json", "html", "text"]})] = "json",
                  channel: Annotated[str, Query(json_schema_extra={"enum": [c.value for c in ChannelKind]})] = "email",
                  ) -> Response:
    if format not in ("json", "html", "text"):
        return error(422, "invalid", "format: json, html or text")
    if channel not in {c.value for c in ChannelKind}:
        return error(422, "invalid", "channel: email, line or sms")
    found = await _preview(request, store, flow, step, locale, customer, ChannelKind(channel))
    if isinstance(found, Response):
        return found
    if format == "html":
        return _as_html(found)
    if format == "text":
        return PlainTextResponse(_as_text(found))
    return JSONResponse(_body(found))


@router.post("/flows/{flow}/steps/{step}/send-test", response_model=None,
             responses={**JSON_BODY, **NOT_FOUND, 409: {"description": "the server has no mail server to send with"}},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": SEND_TEST}}}})
async def send_test_endpoint(request: Request, store: StoreDep, flow: str, step: str) -> Response:
    try:
        data = read_json(await read_limited(request) or b"null")
    except Refused:
        return error(400, "bad_json", "the body is not JSON; send {\"to\": ADDRESS, \"locale\": \"ja\"}")
    if not isinstance(data, dict):
        return error(422, "invalid", "send a JSON object {\"to\": ADDRESS, \"locale\": \"ja\"}")
    to, locale, customer = data.get("to"), data.get("locale", "ja"), data.get("customer")
    if not isinstance(to, str) or "@" not in to or len(to) > 320 or any(c in to for c in "\r\n ,"):
        return error(422, "invalid", "to: expected one email address")
    if not isinstance(locale, str) or (customer is not None and not isinstance(customer, str)):
        return error(422, "invalid", "locale and customer are text")
    found = await _preview(request, store, flow, step, locale, customer)
    if isinstance(found, Response):
        return found
    runtime = runtime_of(request)
    try:
        channel = runtime.channel()
    except RuntimeError as exc:
        return error(409, "no_mail_server", str(exc))
    message_id = await send_test(channel, store, runtime.settings.base_url, found, to, runtime.clock.now())
    async with runtime.engine.begin() as conn:
        await record(conn, store.id, sources.api_key(request, store.api_key_prefix),
                     Change(Action.STEP_TEST_SENT, f"{flow}/{step}", {"locale": locale}), runtime.clock.now())
    return JSONResponse({**{k: v for k, v in _body(found).items() if k not in ("html", "text")},
                         "subject": "[TEST] " + found.email.subject, "to": to, "message_id": message_id})

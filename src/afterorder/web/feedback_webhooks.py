"""``POST /webhooks/esp/{provider}/{store}``: bounce and complaint webhooks from SES (SNS),
SendGrid, Postmark and Mailgun.  401 when the signature or credentials fail, 400 when the body is
not what the provider sends, 404 when the store has no such webhook set up; nothing is stored
in any of those cases."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from afterorder.feedback.base import WebhookRequest
from afterorder.feedback.receiver import EspReceiver
from afterorder.web.api import ApiError, read_limited
from afterorder.web.errors import error
from afterorder.webhook_errors import Unauthorized, WebhookError

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.post("/webhooks/esp/{provider}/{store}")
async def esp_webhook(request: Request, provider: str, store: str) -> Response:
    receiver: EspReceiver = request.app.state.esp
    try:
        body = await read_limited(request)
        received = await receiver.receive(provider, store, WebhookRequest(
            body, {k.lower(): v for k, v in request.headers.items()}))
    except ApiError as exc:
        return exc.response
    except WebhookError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="afterorder"'} if isinstance(exc, Unauthorized) else None
        return error(exc.status, exc.code, exc.message, headers=headers)
    return JSONResponse(received.as_json())

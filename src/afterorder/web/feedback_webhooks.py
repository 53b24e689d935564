"""What providers send back, one route each (``feedback/`` reads and applies them):

* ``POST /webhooks/esp/{provider}/{store}``: SES (through SNS), SendGrid, Postmark and Mailgun
  bounces, complaints and deliveries;
* ``POST /webhooks/line/{store}``: the store's LINE channel (follow, unfollow, account links,
  notification-message deliveries);
* ``POST /webhooks/twilio/{store}``: Twilio status callbacks and incoming SMS (answered in TwiML);
* ``POST /webhooks/aliyun_sms/{store}/{token}``: Alibaba Cloud's SmsReport delivery receipts.

401 when the signature, token or credentials fail, 400 when the body is not what the provider
sends (naming what is wrong), 404 when the store or provider is unknown or not set up; nothing is
stored in any of those cases.  All errors come from ``afterorder.webhook_errors``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from afterorder.feedback.aliyun_sms import ANSWER, AliyunSmsReceiver
from afterorder.feedback.base import WebhookRequest
from afterorder.feedback.line import LineReceiver
from afterorder.feedback.receiver import EspReceiver
from afterorder.feedback.twilio import TwilioReceiver
from afterorder.web.api import ApiError, read_limited
from afterorder.web.errors import error
from afterorder.webhook_errors import Unauthorized, WebhookError

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


async def _request(request: Request) -> WebhookRequest:
    body = await read_limited(request)
    return WebhookRequest(body, {k.lower(): v for k, v in request.headers.items()})


def _refused(exc: WebhookError, basic_auth: bool = False) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="afterorder"'} if basic_auth and isinstance(exc, Unauthorized) else None
    return error(exc.status, exc.code, exc.message, headers=headers)


@router.post("/webhooks/esp/{provider}/{store}")
async def esp_webhook(request: Request, provider: str, store: str) -> Response:
    receiver: EspReceiver = request.app.state.esp
    try:
        received = await receiver.receive(provider, store, await _request(request))
    except ApiError as exc:
        return exc.response
    except WebhookError as exc:
        return _refused(exc, basic_auth=True)
    return JSONResponse(received.as_json())


@router.post("/webhooks/line/{store}")
async def line_webhook(request: Request, store: str) -> Response:
    receiver: LineReceiver = request.app.state.line
    try:
        received = await receiver.receive(store, await _request(request))
    except ApiError as exc:
        return exc.response
    except WebhookError as exc:
        return _refused(exc)
    return JSONResponse(received.as_json())


@router.post("/webhooks/twilio/{store}")
async def twilio_webhook(request: Request, store: str) -> Response:
    receiver: TwilioReceiver = request.app.state.twilio
    try:
        answer = await receiver.receive(store, request.url.query, await _request(request))
    except ApiError as exc:
        return exc.response
    except WebhookError as exc:
        return _refused(exc)
    return Response(answer.twiml, media_type="text/xml")


@router.post("/webhooks/aliyun_sms/{store}/{token}")
async def aliyun_sms_webhook(request: Request, store: str, token: str) -> Response:
    receiver: AliyunSmsReceiver = request.app.state.aliyun_sms
    try:
        await receiver.receive(store, token, await _request(request))
    except ApiError as exc:
        return exc.response
    except WebhookError as exc:
        return _refused(exc)
    return JSONResponse(ANSWER)

"""What providers send back, one route each (``feedback/`` reads and applies them):

* ``POST /webhooks/esp/{provider}/{store}``: SES (through SNS), SendGrid, Postmark and Mailgun
  bounces, complaints and deliveries;
* ``POST /webhooks/line/{store}``: the store's LINE channel (follow, unfollow, account links,
  notification-message deliveries);
* ``POST /webhooks/twilio/{store}``: Twilio status callbacks and incoming SMS (answered in TwiML);
* ``POST /webhooks/aliyun_sms/{store}/{token}``: Alibaba Cloud's SmsReport delivery receipts.

401 when the signature, token or credentials fail, 400 when the body is not what the provider
sends (naming what is wrong), 404 when the store or provider is unknown or not set up; nothing is
stored in any of those cases.  All errors come from ``afterorder.intake.errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from afterorder.feedback.aliyun_sms import ANSWER, AliyunSmsReceiver
from afterorder.feedback.base import WebhookRequest
from afterorder.feedback.line import LineReceived, LineReceiver
from afterorder.feedback.receiver import EspReceiver, Received
from afterorder.feedback.twilio import TwilioReceiver
from afterorder.intake.errors import Unauthorized, WebhookError
from afterorder.web.api import ApiError, read_limited
from afterorder.web.errors import error

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
T = TypeVar("T")


async def _request(request: Request) -> WebhookRequest:
    body = await read_limited(request)
    return WebhookRequest(body, {k.lower(): v for k, v in request.headers.items()})


def _refused(exc: WebhookError, basic_auth: bool = False) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="afterorder"'} if basic_auth and isinstance(exc, Unauthorized) else None
    return error(exc.status, exc.code, exc.message, headers=headers)


async def _received(request: Request, receive: Callable[[WebhookRequest], Awaitable[T]],
                    answer: Callable[[T], Response], *, basic_auth: bool = False) -> Response:
    """``receive`` the request and ``answer`` with what it gave; a refused request gets its error."""
    try:
        received = await receive(await _request(request))
    except ApiError as exc:
        return exc.response
    except WebhookError as exc:
        return _refused(exc, basic_auth)
    return answer(received)


def _as_json(received: Received | LineReceived) -> Response:
    return JSONResponse(received.as_json())


@router.post("/webhooks/esp/{provider}/{store}")
async def esp_webhook(request: Request, provider: str, store: str) -> Response:
    receiver: EspReceiver = request.app.state.esp
    return await _received(request, partial(receiver.receive, provider, store), _as_json, basic_auth=True)


@router.post("/webhooks/line/{store}")
async def line_webhook(request: Request, store: str) -> Response:
    receiver: LineReceiver = request.app.state.line
    return await _received(request, partial(receiver.receive, store), _as_json)


@router.post("/webhooks/twilio/{store}")
async def twilio_webhook(request: Request, store: str) -> Response:
    receiver: TwilioReceiver = request.app.state.twilio
    return await _received(request, partial(receiver.receive, store, request.url.query),
                           lambda answer: Response(answer.twiml, media_type="text/xml"))


@router.post("/webhooks/aliyun_sms/{store}/{token}")
async def aliyun_sms_webhook(request: Request, store: str, token: str) -> Response:
    receiver: AliyunSmsReceiver = request.app.state.aliyun_sms
    return await _received(request, partial(receiver.receive, store, token), lambda _: JSONResponse(ANSWER))

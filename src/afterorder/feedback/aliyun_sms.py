"""Alibaba Cloud SMS delivery receipts (SmsReport, "HTTP batch push"):
``POST /webhooks/aliyun_sms/{store}/{token}``.

Alibaba Cloud does not sign SmsReport, so the URL carries a secret: :func:`report_token`, derived
from the store's signing key (``afterorder store webhooks STORE`` prints the whole URL to paste
into the console).  A wrong or missing token gets 401 and nothing is applied.

The body is a JSON array of reports, each ``{"phone_number", "send_time", "report_time",
"success", "err_code", "err_msg", "sms_size", "biz_id", "out_id"}``; the message whose
``outbox.provider_message_id`` is the report's ``biz_id`` (what ``SendSms`` answered as
``BizId``) gets ``delivered`` (``success: true``) or ``undelivered`` with the error code.
``report_time`` is China time (UTC+8).  The answer Alibaba Cloud expects is
``{"code": 0, "msg": "接收成功"}``; anything else (or no answer within its timeout) makes it retry
after 1, 5 and 10 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.db.stores import StoreRow
from afterorder.feedback.base import DeliveryStatus, Feedback, StatusReport, WebhookRequest, text
from afterorder.feedback.receiver import Received, find_store, store_feedback
from afterorder.intake.errors import Malformed, Unauthorized
from afterorder.intake.pipeline import Intake
from afterorder.keys.signers import StoreSigners
from afterorder.signing import BadToken, Signer

NAME = "aliyun_sms"
PURPOSE = "aliyun-sms-report"  # signing purpose of the URL token
CHINA = timezone(timedelta(hours=8))
ANSWER = {"code": 0, "msg": "接收成功"}


def report_token(store: StoreRow, signer: Signer) -> str:
    """The secret part of the store's SmsReport URL (the same every time for the same signing key;
    ``signer``: the store's, ``afterorder.keys.signers``)."""
    return signer.sign(PURPOSE, [store.id])


def report_url(base_url: str, store: StoreRow, signer: Signer) -> str:
    return f"{base_url.rstrip('/')}/webhooks/aliyun_sms/{quote(store.slug, safe='')}/{report_token(store, signer)}"


def verify(store: StoreRow, signer: Signer, token: str) -> None:
    try:
        if signer.verify(PURPOSE, token) == [store.id]:
            return
    except BadToken:
        pass
    raise Unauthorized("the SmsReport URL's token is not this store's: copy it from `afterorder store webhooks`")


def _time(value: Any, name: str) -> datetime:
    try:
        return datetime.strptime(text(value, name), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        raise Malformed(f"{name} is not a time like 2017-01-01 00:00:00: {str(value)[:40]!r}") from None


def read_report(index: int, item: Any) -> StatusReport:
    where = f"[{index}]"
    if not isinstance(item, dict):
        raise Malformed(f"report {where} is not an object")
    success = item.get("success")
    if not isinstance(success, bool):
        raise Malformed(f"{where}.success is missing or not true/false")
    detail = " ".join(str(item.get(k) or "") for k in ("err_code", "err_msg")).strip()
    return StatusReport(NAME, DeliveryStatus.DELIVERED if success else DeliveryStatus.UNDELIVERED,
                        _time(item.get("report_time"), f"{where}.report_time"),
                        provider_message_id=text(item.get("biz_id"), f"{where}.biz_id"), detail=detail)


def parse(request: WebhookRequest) -> Feedback:
    data = request.json()
    if not isinstance(data, list):
        raise Malformed("an SmsReport body is a JSON array of reports")
    return Feedback(statuses=[read_report(i, item) for i, item in enumerate(data)])


@dataclass
class AliyunSmsReceiver:
    engine: AsyncEngine
    intake: Intake
    signers: StoreSigners

    async def receive(self, store_slug: str, token: str, request: WebhookRequest) -> Received:
        store = await find_store(self.engine, store_slug)
        verify(store, self.signers.of(store), token)
        return await store_feedback(self.engine, self.intake, store, NAME, parse(request))

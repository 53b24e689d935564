"""``POST /webhooks/ecwid/{store}``: Ecwid's webhooks, recorded and answered at once (``intake.ecwid_webhooks``).

Registered before the platforms' ``/webhooks/{platform}/{store}``: an Ecwid delivery names an order
that is fetched after the answer, so it does not go through the receiver that stores events inline.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from afterorder.intake.ecwid_webhooks import receive_ecwid
from afterorder.intake.errors import WebhookError
from afterorder.web.api import read_limited, runtime_of
from afterorder.web.errors import error
from afterorder.web.webhooks import receiver_of

router = APIRouter()


@router.post(
    "/webhooks/ecwid/{store}",
    summary="Ecwid's webhook",
    description="Paste this URL into your Ecwid app's webhook URL. The delivery must carry "
    "`X-Ecwid-Webhook-Signature` made with the app's client secret given to `afterorder store connect`, and its "
    "`storeId` must be the connected Ecwid store. It is recorded and answered at once; the order (or customer) "
    "it names is fetched from Ecwid's REST API afterwards. A replayed `eventId` is answered `duplicate`.",
    responses={200: {"description": "queued to fetch, a duplicate, or recorded as ignored"},
               400: {"description": "unreadable body (a field named)"},
               401: {"description": "missing or forged signature; nothing recorded"},
               404: {"description": "unknown store, a store not connected to Ecwid, or another Ecwid storeId"},
               413: {"description": "body over the size limit"}},
    tags=["webhooks"],
)
async def receive_ecwid_webhook(store: str, request: Request) -> Response:
    body = await read_limited(request)
    try:
        receipt = await receive_ecwid(receiver_of(request), store, request.headers, body,
                                      wake=runtime_of(request).ecwid_due.set)
    except WebhookError as exc:
        return error(exc.status, exc.code, exc.message)
    return JSONResponse(receipt.as_json())

"""``POST /webhooks/eccube/{store}``: EC-CUBE's webhooks, recorded and answered at once (``intake.eccube_webhooks``).

Registered before the platforms' ``/webhooks/{platform}/{store}``: an EC-CUBE delivery names orders and
customers that are fetched after the answer, so it does not go through the receiver that stores events inline.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from afterorder.intake.eccube_webhooks import receive_eccube
from afterorder.intake.errors import WebhookError
from afterorder.web.api import read_limited, runtime_of
from afterorder.web.errors import error
from afterorder.web.webhooks import receiver_of

router = APIRouter()


@router.post(
    "/webhooks/eccube/{store}",
    summary="EC-CUBE's webhook (Web API plugin)",
    description="Paste this URL as the payload URL of a WebHook in EC-CUBE's admin (設定 → API管理 → WebHook管理), "
    "with the secret given to `afterorder store connect --webhook-secret`. The body is the plugin's JSON array of "
    "`{entity, id, action}` and must carry `X-ECCUBE-Signature` (hex HMAC-SHA256 of the body). Each notice is "
    "recorded and answered at once; the order or customer it names is fetched from the plugin's GraphQL API "
    "afterwards. A notice about an entity already waiting to be fetched is answered `duplicate`.",
    responses={200: {"description": "queued to fetch, duplicates, or recorded as ignored; `notices` gives each one"},
               400: {"description": "unreadable body (the entry and field named)"},
               401: {"description": "missing or forged signature; nothing recorded"},
               404: {"description": "unknown store, or a store not connected to EC-CUBE"},
               413: {"description": "body over the size limit"}},
    tags=["webhooks"],
)
async def receive_eccube_webhook(store: str, request: Request) -> Response:
    body = await read_limited(request)
    try:
        receipt, notices = await receive_eccube(receiver_of(request), store, request.headers, body,
                                                wake=runtime_of(request).eccube_due.set)
    except WebhookError as exc:
        return error(exc.status, exc.code, exc.message)
    return JSONResponse({**receipt.as_json(), "notices": notices})

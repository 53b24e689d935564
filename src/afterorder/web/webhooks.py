"""Platform webhooks (``POST /webhooks/{platform}/{store}``) and connecting a store to a platform
(``POST /api/v1/connections``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from afterorder.db.platforms import connect
from afterorder.intake.errors import WebhookError
from afterorder.intake.platforms import connection_problems, webhook_url
from afterorder.intake.webhooks import WebhookReceiver
from afterorder.web.api import ApiError, StoreDep, parse_json, read_limited, runtime_of
from afterorder.web.errors import error, validation_details

router = APIRouter()


def receiver_of(request: Request) -> WebhookReceiver:
    receiver: WebhookReceiver = request.app.state.webhooks
    return receiver


@router.post(
    "/webhooks/{platform}/{store}",
    summary="A store platform's webhook (shopify, woocommerce, saleor)",
    description="Paste this URL into the platform. The raw body must carry the platform's signature made with "
    "the secret given to `afterorder store connect`. Topics afterorder does not use are answered 200 and recorded. "
    "A body nested too deep, or mapping to an event past a limit (a time before 1970 or more than a day ahead, "
    "a number past the database's columns) is answered 400 naming the field; nothing is stored.",
    responses={200: {"description": "stored, or recorded as ignored"}, 400: {"description": "unreadable body"},
               401: {"description": "missing, forged or stale signature; nothing stored"},
               404: {"description": "unknown store or platform, or the store has not connected it"},
               413: {"description": "body over the size limit (1 MiB unless serve --max-body-bytes)"}},
    tags=["webhooks"],
)
async def receive_webhook(platform: str, store: str, request: Request) -> Response:
    body = await read_limited(request)
    try:
        receipt = await receiver_of(request).receive(platform, store, request.headers, body)
    except WebhookError as exc:
        return error(exc.status, exc.code, exc.message)
    return JSONResponse(receipt.as_json())


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = Field(max_length=32)
    secret: str | None = Field(default=None, max_length=255)
    previous_secret: str | None = Field(default=None, max_length=255)
    keep_previous: bool = False
    api_url: str | None = Field(default=None, max_length=1000)


def connection_answer(base_url: str, slug: str, platform: str, topics: list[str], rotated: bool) -> dict[str, Any]:
    return {"platform": platform, "webhook_url": webhook_url(base_url, platform, slug), "topics": topics,
            "previous_secret_kept": rotated}


@router.post("/api/v1/connections", summary="Connect this store to Shopify, WooCommerce or Saleor", tags=["admin"],
             responses={200: {"description": "connected; paste webhook_url into the platform"},
                        422: {"description": "a missing or wrong option, named"}})
async def post_connection(request: Request, store: StoreDep) -> JSONResponse:
    body = await read_limited(request)
    try:
        wanted = ConnectionIn.model_validate(parse_json(body))
    except ValidationError as exc:
        raise ApiError(error(422, "invalid_request", "invalid connection", details=validation_details(exc))) from None
    adapters = receiver_of(request).adapters
    adapter = adapters.get(wanted.platform)
    if adapter is None:
        raise ApiError(error(422, "invalid_request", f"platform: use one of {', '.join(adapters)}"))
    problems = connection_problems(adapter, wanted.secret, wanted.api_url)
    if problems:
        raise ApiError(error(422, "invalid_request", "; ".join(problems)))
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        made = await connect(conn, store.id, wanted.platform, runtime.clock.now(), secret=wanted.secret,
                             previous_secret=wanted.previous_secret, keep_previous=wanted.keep_previous,
                             api_url=wanted.api_url)
    return JSONResponse(connection_answer(runtime.settings.base_url, store.slug, wanted.platform,
                                          list(adapter.subscribe), made.previous_secret is not None))

"""Platform webhooks (``POST /webhooks/{platform}/{store}``) and connecting a store to a platform
(``POST /api/v1/connections``: the secrets are stored sealed, ``afterorder.keys.stored``, and the
answer never holds them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from afterorder.audit import sources
from afterorder.audit.log import Action, Change, record
from afterorder.db.platforms import connect
from afterorder.intake.errors import WebhookError
from afterorder.intake.platforms import connection_problems, webhook_url
from afterorder.intake.webhooks import WebhookReceiver
from afterorder.keys.sealing import SealError
from afterorder.web.api import ApiError, StoreDep, parse_json, read_limited, runtime_of
from afterorder.web.errors import error, validation_details
from afterorder.web.openapi_errors import JSON_BODY

router = APIRouter()


def receiver_of(request: Request) -> WebhookReceiver:
    receiver: WebhookReceiver = request.app.state.webhooks
    return receiver


@router.post(
    "/webhooks/{platform}/{store}",
    summary="A store platform's webhook (shopify, woocommerce, saleor; ecwid and eccube have their own)",
    description="Paste this URL into the platform. The raw body must carry the platform's signature made with "
    "the secret given to `afterorder store connect`. Topics afterorder does not use are answered 200 and recorded. "
    "A body nested too deep, or mapping to an event past a limit (a time before 1970 or more than a day ahead, "
    "a number past the database's columns) is answered 400 naming the field; nothing is stored.",
    responses={200: {"description": "stored, or recorded as ignored"}, 400: {"description": "unreadable body"},
               401: {"description": "missing, forged or stale signature; nothing stored"},
               404: {"description": "unknown store or platform, or the store has not connected it"},
               413: {"description": "body over the size limit (1 MiB unless serve --max-body-bytes)"},
               503: {"description": "secret_key: the store's webhook secret cannot be opened with the configured "
                                    "key (the message says which key to configure); the platform retries"}},
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
    # Ecwid: its store id and REST token; ``client_secret`` / ``api_base`` are Ecwid's names for secret / api_url
    store_id: int | str | None = Field(default=None, union_mode="left_to_right")
    token: str | None = Field(default=None, max_length=255)
    client_secret: str | None = Field(default=None, max_length=255)
    api_base: str | None = Field(default=None, max_length=1000)
    # EC-CUBE: the shop's URL, its API client (client_id / client_secret) and the WebHook's secret
    url: str | None = Field(default=None, max_length=1000)
    client_id: str | None = Field(default=None, max_length=64)
    webhook_secret: str | None = Field(default=None, max_length=255)

    def values(self) -> tuple[str | None, str | None, str | None, str | None]:
        """(secret, api_url, account_id, token) as stored for this platform."""
        if self.platform == "eccube":  # the client secret is kept as the token, the WebHook's secret as the secret
            return self.webhook_secret or self.secret, self.api_base or self.api_url or self.url, self.client_id, \
                self.client_secret or self.token
        account_id = str(self.store_id) if self.store_id is not None else None
        return self.secret or self.client_secret, self.api_url or self.api_base, account_id, self.token


def connection_answer(base_url: str, slug: str, platform: str, topics: list[str], rotated: bool) -> dict[str, Any]:
    return {"platform": platform, "webhook_url": webhook_url(base_url, platform, slug), "topics": topics,
            "previous_secret_kept": rotated}


@router.post("/api/v1/connections", summary="Connect this store to Shopify, WooCommerce, Saleor, Ecwid or EC-CUBE",
             tags=["admin"],
             responses={**JSON_BODY, 200: {"description": "connected; paste webhook_url into the platform"},
                        422: {"description": "a missing or wrong option, named"},
                        503: {"description": "secret_key: the configured key is unusable, or cannot open the "
                                             "secret a rotation would keep"}},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": ConnectionIn.model_json_schema()}}}})
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
    secret, api_url, account_id, token = wanted.values()
    problems = connection_problems(adapter, secret, api_url, account_id, token)
    if problems:
        raise ApiError(error(422, "invalid_request", "; ".join(problems)))
    runtime = runtime_of(request)
    try:
        sealer = runtime.sealer
        async with runtime.engine.begin() as conn:
            made = await connect(conn, store.id, wanted.platform, runtime.clock.now(), secret=secret,
                                 sealer=sealer, previous_secret=wanted.previous_secret,
                                 keep_previous=wanted.keep_previous, api_url=api_url,
                                 account_id=account_id, token=token)
            await record(conn, store.id, sources.api_key(request, store.api_key_prefix), Change(
                Action.PLATFORM_CONNECTED, wanted.platform, {
                    "api_url": api_url,
                    "secret_rotated": wanted.previous_secret is not None or wanted.keep_previous}),
                runtime.clock.now())
    except SealError as exc:  # the key is unusable, or cannot open the secret a rotation would keep
        raise ApiError(error(503, "secret_key", str(exc))) from None
    return JSONResponse(connection_answer(runtime.settings.base_url, store.slug, wanted.platform,
                                          list(adapter.subscribe), made.previous_secret is not None))

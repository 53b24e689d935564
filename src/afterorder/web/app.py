"""The ASGI application."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from afterorder.clock import OffsetClock
from afterorder.db.outage import Outage, database_lost
from afterorder.dev.receivers import DevReceivers
from afterorder.domain import Event, EventBatch
from afterorder.feedback.aliyun_sms import AliyunSmsReceiver
from afterorder.feedback.line import LineReceiver
from afterorder.feedback.receiver import EspReceiver
from afterorder.feedback.twilio import TwilioReceiver
from afterorder.intake.platforms import build_adapters
from afterorder.intake.webhooks import WebhookReceiver
from afterorder.keys.sealing import SealError
from afterorder.runtime import Runtime
from afterorder.web import (
    api,
    api_audit,
    api_channels,
    api_compliance,
    api_preview,
    back_in_stock,
    content_api,
    data_rights,
    delivery_notes,
    eccube_webhooks,
    ecwid_webhooks,
    engagement,
    feedback_webhooks,
    inbox,
    line_link,
    order_page,
    pages,
    public,
    reports,
    segments,
    surveys,
    thank_you,
    tracking,
    webhooks,
)
from afterorder.web.allowed_methods import allowed_methods
from afterorder.web.body_limit import BodyLimit, BodyLimits
from afterorder.web.dashboard.mount import add_dashboard
from afterorder.web.errors import database_unavailable, error, validation_details
from afterorder.web.fast_ingest import FastIngest
from afterorder.web.openapi_errors import document_errors
from afterorder.web.rate_limits import RateLimits, RateLimitSettings
from afterorder.web.security_headers import SecurityHeaders, allow, csp_nonce

SWAGGER_CDN = "https://cdn.jsdelivr.net"

log = logging.getLogger(__name__)


class ClockAdvance(BaseModel):
    seconds: float = Field(gt=0, le=10 * 365 * 86400)


def create_app(runtime: Runtime, *, dev_clock: OffsetClock | None = None, dev: DevReceivers | None = None,
               webhook_http: httpx.AsyncClient | None = None, esp: EspReceiver | None = None,
               limits: RateLimitSettings | None = None, limit_clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """``webhook_http`` is the client webhook receivers call out with (Saleor's JWKS, LINE's link tokens and
    pushes); one is made if not given.  ``esp`` receives the mail providers' bounce and complaint webhooks;
    ``dev``: the development receivers ``/inbox`` shows.  ``limits``: the rate limits (``rate_limits``'
    defaults if not given), their buckets refilled by ``limit_clock``."""
    app = FastAPI(title="afterorder", version="0.1.0", openapi_url="/api/openapi.json", docs_url=None,
                  redoc_url=None, description="Post-purchase and lifecycle messaging engine for online stores.")
    app.state.runtime = runtime
    app.state.dev = dev
    app.state.key_cache = {}
    app.state.webhooks = WebhookReceiver(runtime.engine, runtime.intake, build_adapters(webhook_http), runtime.clock,
                                         lambda: runtime.sealer, runtime.settings.horizon)
    app.include_router(api.router)
    app.include_router(feedback_webhooks.router)  # before /webhooks/{platform}/{store}: line, twilio are no platforms
    app.include_router(ecwid_webhooks.router)  # before /webhooks/{platform}/{store}: fetched after the answer
    app.include_router(eccube_webhooks.router)  # likewise
    app.include_router(webhooks.router)
    app.include_router(inbox.router)
    app.include_router(pages.router)
    app.include_router(segments.router)
    app.include_router(reports.router)
    app.include_router(engagement.router)
    app.include_router(data_rights.router)
    app.include_router(tracking.router)
    app.state.esp = esp or EspReceiver(runtime.engine, runtime.intake, sealer=lambda: runtime.sealer)
    app.state.line = LineReceiver(runtime.engine, runtime.clock, lambda: runtime.sealer, runtime.settings.base_url,
                                  runtime.signers, webhook_http)
    app.state.twilio = TwilioReceiver(runtime.engine, runtime.intake, runtime.clock, lambda: runtime.sealer,
                                      runtime.settings.base_url)
    app.state.aliyun_sms = AliyunSmsReceiver(runtime.engine, runtime.intake, runtime.signers)
    app.include_router(line_link.router)
    app.include_router(public.router)
    app.include_router(order_page.router)
    app.include_router(order_page.api_router)
    app.include_router(delivery_notes.router)
    app.include_router(delivery_notes.api_router)
    app.include_router(surveys.router)
    app.include_router(thank_you.router)
    app.include_router(thank_you.api_router)
    app.include_router(content_api.router)
    app.include_router(back_in_stock.router)
    app.include_router(api_compliance.router)
    app.include_router(api_channels.router)
    app.include_router(api_preview.router)
    app.include_router(api_audit.router)
    add_dashboard(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.exception_handler(api.ApiError)
    async def _api_error(_request: Request, exc: api.ApiError) -> Response:
        return exc.response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        details = [{"loc": list(e["loc"]), "field": ".".join(str(p) for p in e["loc"]), "message": e["msg"],
                    "type": e["type"]} for e in exc.errors()]
        return error(422, "invalid_request", "invalid request", details=details)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app.routes, request.scope))
        return error(exc.status_code, "http_error", str(exc.detail), headers=headers or None)

    outage = Outage(log)  # what this process says while its database is away

    @app.exception_handler(DBAPIError)
    @app.exception_handler(ConnectionError)
    async def _database(_request: Request, exc: Exception) -> Response:
        if database_lost(exc):  # 503 and one log line, not a 500 and a traceback a request
            outage.lost(exc)
            return database_unavailable()
        log.error("a request failed", exc_info=exc)
        return error(500, "internal_error", "something went wrong on our side; the event was not stored")

    @app.exception_handler(SealError)
    async def _sealed(_request: Request, exc: SealError) -> Response:  # a store's signing key will not open
        log.error("a stored secret cannot be used: %s", exc)
        return error(503, "secret_key", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> Response:
        return error(500, "internal_error", "something went wrong on our side; the event was not stored")

    @app.get("/", include_in_schema=False)
    async def _home() -> Response:
        return RedirectResponse("/inbox" if dev is not None else "/runs")

    @app.get("/api/docs", include_in_schema=False)
    async def _docs(request: Request) -> Response:
        """Swagger UI, from its CDN; its one inline script carries this answer's nonce."""
        allow(request, script=(SWAGGER_CDN,), style=(SWAGGER_CDN,))
        page = get_swagger_ui_html(openapi_url="/api/openapi.json", title=f"{app.title} - API")
        html = bytes(page.body).decode().replace("<script>", f'<script nonce="{csp_nonce(request)}">')
        return HTMLResponse(html)

    @app.get("/healthz", include_in_schema=False)
    async def _health() -> dict[str, str]:
        return {"status": "ok", "now": runtime.clock.now().isoformat()}

    @app.post("/dev/clock/advance", include_in_schema=False)
    async def _advance(request: Request) -> Response:
        if dev_clock is None:
            return error(403, "dev_clock_off", "the clock can be moved only when serve runs with --dev-clock")
        try:
            body = ClockAdvance.model_validate_json(await request.body())
        except ValueError as exc:
            details = validation_details(exc) if isinstance(exc, ValidationError) else None
            return error(422, "invalid_request", 'send {"seconds": N} with N > 0', details=details)
        now = dev_clock.advance(body.seconds)
        runtime.poke()
        return JSONResponse({"now": now.isoformat()})

    def _openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema["paths"]["/api/v1/events"]["post"]["description"] = api.events_description(
            runtime.settings.max_body_bytes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Event, EventBatch):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        schema["security"] = [{"bearer": []}]
        document_errors(schema, body_limits)
        app.openapi_schema = schema
        return schema

    body_limits = BodyLimits(runtime.settings.max_body_bytes)
    app.openapi = _openapi  # type: ignore[method-assign]
    framework = app.build_middleware_stack

    def _stack() -> ASGIApp:
        inner = BodyLimit(FastIngest(framework(), outage), body_limits)
        return SecurityHeaders(RateLimits(inner, limits or RateLimitSettings(), limit_clock))

    app.build_middleware_stack = _stack  # type: ignore[method-assign]
    return app

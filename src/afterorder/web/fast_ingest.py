"""The event API's hot route without the framework around it.

``POST /api/v1/events`` is most of the traffic a store sends, and a request spent about as long in
FastAPI's middleware, routing and dependency injection as in its own handler.  This ASGI layer sits
just inside the application (``app.state``, the exception handling of the rest are unchanged), runs
the same handler (``api.current_store`` → ``api.post_events``) straight away, and answers its errors
the same way (a lost database: 503 with ``Retry-After``, one log line); every other request goes on
to FastAPI.  The route stays declared in FastAPI, so the
OpenAPI document describes it.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from afterorder.db.outage import Outage, database_lost
from afterorder.web import api
from afterorder.web.errors import database_unavailable, error

log = logging.getLogger(__name__)
PATH = "/api/v1/events"


class FastIngest:
    def __init__(self, app: ASGIApp, outage: Outage | None = None) -> None:
        """``outage``: what this process says while its database is away (503s, one log line)."""
        self.app = app
        self.outage = outage or Outage(log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response
        try:
            store = await api.current_store(request)
            response = await api.post_events(request, store)
        except api.ApiError as exc:
            response = exc.response
        except Exception as exc:
            if database_lost(exc):
                self.outage.lost(exc)
                response = database_unavailable()
            else:
                log.exception("POST %s failed", PATH)
                response = error(500, "internal_error", "something went wrong on our side; the event was not stored")
        else:
            self.outage.back()
        await response(scope, receive, send)

"""Adds the dashboard's pages to the application."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from afterorder.web.dashboard import abtests, audit, auth, customers, flows, messages, retention, settings, templates
from afterorder.web.dashboard.access import Denied


def add_dashboard(app: FastAPI) -> None:
    for module in (auth, audit, flows, messages, retention, customers, templates, abtests, settings):
        app.include_router(module.router)

    @app.exception_handler(Denied)
    async def _denied(_request: Request, exc: Denied) -> Response:
        return exc.response

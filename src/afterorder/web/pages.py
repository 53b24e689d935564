"""Operator pages: the development inbox and the flow runs overview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from starlette.responses import HTMLResponse, Response

from afterorder.db.schema import flow_runs, stores
from afterorder.dev.inbox import DevInbox, ReceivedMail
from afterorder.dev.receivers import DevReceivers
from afterorder.runtime import Runtime
from afterorder.web.errors import error

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]))
SHOWN_HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "X-Afterorder-Category")


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    return HTMLResponse(_env.get_template(name).render(now=runtime.clock.now(), **context))


def _inbox(request: Request) -> DevInbox | None:
    dev: DevReceivers | None = request.app.state.dev
    return dev.inbox if dev is not None else None


def _header(mail: ReceivedMail, name: str) -> str:
    return next((v for k, v in mail.headers if k.lower() == name.lower()), "")


@router.get("/inbox")
async def inbox_page(request: Request) -> Response:
    inbox = _inbox(request)
    if inbox is None:
        return error(404, "no_inbox", "the inbox exists only with the built-in development SMTP server (--dev-smtp)")
    return _page(request, "inbox.html", title="Inbox", mails=inbox.all()[:500], header=_header)


@router.get("/inbox/{mail_id}")
async def mail_page(request: Request, mail_id: int) -> Response:
    inbox = _inbox(request)
    mail = inbox.get(mail_id) if inbox else None
    if mail is None:
        return error(404, "not_found", f"no mail #{mail_id} in the inbox")
    return _page(request, "mail.html", title=mail.subject, mail=mail, shown=SHOWN_HEADERS)


@router.get("/runs")
async def runs_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        slugs = {r.id: r.slug for r in await conn.execute(select(stores.c.id, stores.c.slug))}
        grouped = await conn.execute(
            select(flow_runs.c.store_id, flow_runs.c.flow_id, flow_runs.c.status, flow_runs.c.step,
                   func.count().label("n"))
            .group_by(flow_runs.c.store_id, flow_runs.c.flow_id, flow_runs.c.status, flow_runs.c.step)
        )
        recent = (await conn.execute(select(flow_runs).order_by(flow_runs.c.id.desc()).limit(50))).mappings().all()
    flows: dict[tuple[int, str], dict[str, Any]] = {}
    for row in grouped:
        key = (row.store_id, row.flow_id)
        if key not in flows:
            spec = runtime.catalog.flows.get(row.flow_id)
            labels = [i.label for i in spec.program] if spec else []
            flows[key] = {"id": row.flow_id, "name": spec.name if spec else row.flow_id,
                          "store": slugs.get(row.store_id, row.store_id), "statuses": {},
                          "steps": [{"index": i, "label": lab, "waiting": 0} for i, lab in enumerate(labels)]}
        entry = flows[key]
        entry["statuses"][row.status] = entry["statuses"].get(row.status, 0) + row.n
        if row.status == "waiting" and row.step < len(entry["steps"]):
            entry["steps"][row.step]["waiting"] += row.n
    rows = [{**dict(r), "store": slugs.get(r["store_id"], r["store_id"])} for r in recent]
    return _page(request, "runs.html", title="Flow runs", flows=list(flows.values()), recent=rows)

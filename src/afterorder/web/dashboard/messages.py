"""Messages (per channel, and per flow, step, message and channel over a period, with a chart) and
benchmarks (post-purchase flows beside the industry's rates)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from afterorder.analytics.benchmarks import POST_PURCHASE, compare
from afterorder.analytics.metrics import PeriodMetrics, opens_known, period_metrics
from afterorder.analytics.retention import ReportError, check_period, end_of, parse_day, start_of
from afterorder.db.store_settings import industry_of, set_industry
from afterorder.domain import INDUSTRIES, IndustryError
from afterorder.web.dashboard import locale, wording
from afterorder.web.dashboard.access import Viewer, page_error, render, runtime_of, viewer
from afterorder.web.dashboard.charts import Series, line_chart
from afterorder.web.dashboard.locale import _

router = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 30


def period(request: Request, who: Viewer, default_days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """``from`` and ``to`` (YYYY-MM-DD, the store's days, both included); by default the last 30 days."""
    today = runtime_of(request).clock.now().astimezone(ZoneInfo(who.store.timezone)).date()
    given_from, given_to = request.query_params.get("from"), request.query_params.get("to")
    days: dict[str, date] = {}
    for name, given in (("from", given_from), ("to", given_to)):
        try:
            if given:
                days[name] = parse_day(name, given)
        except ReportError:
            raise page_error(400, _("{field}: {value} is not a date; use YYYY-MM-DD").format(
                field=name, value=repr(given))) from None
    end = days.get("to", today)
    start = days.get("from", end - timedelta(days=default_days - 1))
    try:
        check_period(start, end)
    except ReportError:
        raise page_error(400, _("from: {start} is after to {end}").format(start=locale.day(start),
                                                                          end=locale.day(end))) from None
    if (end - start).days > 3660:
        raise page_error(400, _("from: the period may be at most ten years long"))
    return start, end


async def _metrics(request: Request, who: Viewer, start: date, end: date) -> PeriodMetrics:
    zone = ZoneInfo(who.store.timezone)
    async with runtime_of(request).engine.connect() as conn:
        return await period_metrics(conn, who.store.id, start_of(start, zone), end_of(end, zone), zone)


@router.get("/dashboard/{slug}/messages")
async def messages_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    start, end = period(request, who)
    metrics = await _metrics(request, who, start, end)
    labels = [locale.short_day(p.day) for p in metrics.days]
    chart = line_chart(labels, [
        Series(_("sent"), "#1f6feb", [p.sent for p in metrics.days]),
        Series(_("opened"), "#2da44e", [p.opened for p in metrics.days]),
        Series(_("clicked"), "#bf8700", [p.clicked for p in metrics.days]),
        Series(_("orders"), "#cf222e", [p.orders for p in metrics.days]),
    ], title=_("Messages sent {start} – {end}, and what they did").format(start=locale.day(start),
                                                                          end=locale.day(end)),
        number=locale.number)
    flows = runtime_of(request).catalog.flows_for(who.store.slug)
    return render(request, who, "messages.html", title=_("Messages"), start=start, end=end, metrics=metrics,
                  chart=chart, flow_names={k: wording.flow_name(v) for k, v in flows.items()},
                  opens_known=opens_known)


@router.get("/dashboard/{slug}/benchmarks")
async def benchmarks_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    start, end = period(request, who, default_days=90)
    metrics = await _metrics(request, who, start, end)
    async with runtime_of(request).engine.connect() as conn:
        industry = await industry_of(conn, who.store.id)
    benchmark = POST_PURCHASE.get(industry or "")
    by_flow = metrics.by_flow()
    rows = []
    for spec in sorted(runtime_of(request).catalog.flows_for(who.store.slug).values(), key=lambda s: s.id):
        if spec.category != "post-purchase":
            continue
        found = by_flow.get(spec.id)
        rates = {"open": found.open_rate if found else None, "click": found.click_rate if found else None,
                 "order": found.order_rate if found else None}
        rows.append({"spec": spec, "delivered": found.delivered if found else 0, "rates": rates,
                     "marks": {k: compare(v, getattr(benchmark, f"{k}_rate")) if benchmark else "none"
                               for k, v in rates.items()}})
    return render(request, who, "benchmarks.html", title=_("Benchmarks"), start=start, end=end, rows=rows,
                  industry=industry, benchmark=benchmark, industries=INDUSTRIES)


@router.post("/dashboard/{slug}/settings/industry")
async def industry_form(request: Request, slug: str) -> Response:
    who = await viewer(request, slug, needs="administer")
    runtime = runtime_of(request)
    try:
        async with runtime.engine.begin() as conn:
            await set_industry(conn, who.store.id, who.form.get("industry", ""), runtime.clock.now())
    except IndustryError:
        raise page_error(400, _("industry: {value} is not one of: {industries}").format(
            value=repr(who.form.get("industry", "")),
            industries=", ".join(wording.industry(i) for i in INDUSTRIES))) from None
    return RedirectResponse(f"/dashboard/{slug}/benchmarks", status_code=303)

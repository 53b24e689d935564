"""Retention: CRR per month or quarter, repeat purchase rate, AOV, CLV, cohorts as a heat map, and
the second-order rate of first-time buyers with and without the post-purchase flows."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from starlette.responses import Response

from afterorder.analytics.retention import retention_report
from afterorder.analytics.second_order import second_order_rates
from afterorder.web.dashboard import locale
from afterorder.web.dashboard.access import page_error, render, runtime_of, viewer
from afterorder.web.dashboard.charts import Series, heat, line_chart
from afterorder.web.dashboard.locale import _
from afterorder.web.dashboard.messages import period

router = APIRouter(include_in_schema=False)


@router.get("/dashboard/{slug}/retention")
async def retention_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    start, end = period(request, who, default_days=365)
    granularity = request.query_params.get("granularity", "month")
    if granularity not in ("month", "quarter"):
        raise page_error(400, _("granularity: {value} is not one of month, quarter").format(value=repr(granularity)))
    runtime = runtime_of(request)
    post_purchase = [s.id for s in runtime.catalog.flows_for(who.store.slug).values() if s.category == "post-purchase"]
    async with runtime.engine.connect() as conn:
        report = await retention_report(conn, who.store, start, end,
                                        granularity="month" if granularity == "month" else "quarter")
        second = await second_order_rates(conn, who.store, start, end, post_purchase)
    series = [p for p in report.series or [] if p.rate is not None]  # no CRR without customers at the start
    label = locale.month if granularity == "month" else locale.quarter
    chart = line_chart([label(p.start) for p in series],
                       [Series(_("CRR (%)"), "#1f6feb", [round(p.rate or 0, 2) for p in series])],
                       title=_("Customer retention rate per month") if granularity == "month"
                       else _("Customer retention rate per quarter"), number=locale.number)
    width = max((len(c.active) for c in report.cohorts), default=0)
    return render(request, who, "retention.html", title=_("Retention"), start=start, end=end, report=report,
                  granularity=granularity, chart=chart, heat=heat, width=width, second=second,
                  period_label=lambda p: label(p.start), cohort_label=cohort_label)


def cohort_label(month: str) -> str:
    """A cohort's ``YYYY-MM`` as the language writes a month (``Nov 2026``, ``2026年11月``)."""
    year, number = month.split("-")
    return locale.month(date(int(year), int(number), 1))

"""Admin reports: ``GET /api/v1/reports/retention`` and ``GET /api/v1/reports/product-cycle``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from afterorder.analytics.product_cycle import DEFAULT_MIN_SAMPLE, check_min_sample, product_cycles
from afterorder.analytics.retention import (
    DEFAULT_ACTIVE_DAYS,
    GRANULARITIES,
    Granularity,
    ReportError,
    check_active_days,
    check_period,
    parse_day,
    retention_report,
)
from afterorder.db.catalog import replenish_days
from afterorder.web.api import ApiError, StoreDep, runtime_of
from afterorder.web.errors import error

router = APIRouter(prefix="/api/v1/reports")

BAD_PARAMETER: dict[int | str, dict[str, Any]] = {400: {"description": "a bad parameter, named in the message"},
                 401: {"description": "wrong or missing API key"}}


def _bad(exc: ReportError) -> ApiError:
    return ApiError(error(400, "invalid_parameter", str(exc)))


def _integer(name: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise _bad(ReportError(f"{name}: {text!r} is not a whole number")) from None


@router.get("/retention", summary="Retention metrics of a period", responses=BAD_PARAMETER,
            description="CRR = (E − N) / B × 100, repeat purchase rate, AOV and historic CLV per currency, and "
            "first-order-month cohorts. `from` and `to` are days (YYYY-MM-DD) in the store's time zone, both "
            "included whole. A customer is active at a time when they ordered within the previous "
            "`active_days` days. `granularity=month|quarter` adds a CRR series.")
async def retention(
    request: Request, store: StoreDep,
    from_: Annotated[str | None, Query(alias="from", description="first day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="last day, YYYY-MM-DD (included)")] = None,
    active_days: Annotated[str | None, Query(description=f"default {DEFAULT_ACTIVE_DAYS}")] = None,
    granularity: Annotated[str | None, Query(description="month or quarter: add a CRR series")] = None,
) -> dict[str, Any]:
    days = _integer("active_days", active_days, DEFAULT_ACTIVE_DAYS)
    try:
        start, end = parse_day("from", from_), parse_day("to", to)
        check_period(start, end)
        check_active_days(days)
        if granularity is not None and granularity not in GRANULARITIES:
            raise ReportError(f"granularity: {granularity!r} is not one of {', '.join(GRANULARITIES)}")
    except ReportError as exc:
        raise _bad(exc) from None
    series: Granularity | None = "month" if granularity == "month" else "quarter" if granularity == "quarter" else None
    async with runtime_of(request).engine.connect() as conn:
        report = await retention_report(conn, store, start, end, active_days=days, granularity=series)
    return report.as_json()


@router.get("/product-cycle", summary="Median days between repeat purchases, per product", responses=BAD_PARAMETER,
            description="Per product (its id, or its SKU), the median days between consecutive purchases of it by "
            "the same customer, from the order history once there are `min_sample` intervals; else none.")
async def product_cycle(
    request: Request, store: StoreDep,
    min_sample: Annotated[str | None, Query(description=f"default {DEFAULT_MIN_SAMPLE}")] = None,
) -> dict[str, Any]:
    sample = _integer("min_sample", min_sample, DEFAULT_MIN_SAMPLE)
    try:
        check_min_sample(sample)
    except ReportError as exc:
        raise _bad(exc) from None
    async with runtime_of(request).engine.connect() as conn:
        found = await product_cycles(conn, store, min_sample=sample,
                                     fallback_days=await replenish_days(conn, store.id))
    return {"store": store.slug, "min_sample": sample, "products": [c.as_json() for c in found]}

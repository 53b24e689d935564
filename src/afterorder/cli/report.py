"""``afterorder report``: retention metrics and product cycles of a store."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

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
from afterorder.cli.common import Database, fail, run
from afterorder.db.catalog import replenish_days
from afterorder.db.database import DEFAULT_URL
from afterorder.db.stores import get_store

StoreSlug = Annotated[str, typer.Option("--store", help="store slug")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} %"


def report_retention(
    store: StoreSlug,
    from_: Annotated[str, typer.Option("--from", help="first day of the period (YYYY-MM-DD, store's time zone)")],
    to: Annotated[str, typer.Option("--to", help="last day of the period (YYYY-MM-DD, included whole)")],
    active_days: Annotated[int, typer.Option(
        "--active-days", help="a customer counts while their last order is at most this many days old")
    ] = DEFAULT_ACTIVE_DAYS,
    by: Annotated[str | None, typer.Option("--by", help="also a CRR series by month or quarter")] = None,
    database: Database = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """CRR, repeat purchase rate, AOV, historic CLV and cohorts of a period."""
    try:
        start, end = parse_day("--from", from_), parse_day("--to", to)
        check_period(start, end, start_name="--from", end_name="--to")
        check_active_days(active_days, "--active-days")
        if by is not None and by not in GRANULARITIES:
            raise ReportError(f"--by: {by!r} is not one of {', '.join(GRANULARITIES)}")
    except ReportError as exc:
        raise fail(str(exc)) from None
    granularity: Granularity | None = "month" if by == "month" else "quarter" if by == "quarter" else None

    async def work(engine: Any) -> dict[str, Any]:
        async with engine.connect() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store {store!r}")
            report = await retention_report(conn, row, start, end, active_days=active_days,
                                            granularity=granularity)
        return report.as_json()

    result = run(database, work)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    _print_retention(result)


def _print_retention(result: dict[str, Any]) -> None:
    console = Console()
    r, repeat = result["retention"], result["repeat_purchase_rate"]
    summary = Table("metric", "value", title=f"{result['store']}: {result['from']} – {result['to']} "
                    f"({result['timezone']})")
    summary.add_row("active customer", f"ordered within {result['active_days']} days")
    summary.add_row("customers at start (B)", str(r["customers_at_start"]))
    summary.add_row("customers at end (E)", str(r["customers_at_end"]))
    summary.add_row("new customers (N)", str(r["new_customers"]))
    summary.add_row("CRR = (E − N) / B", _percent(r["crr"]))
    for name, key in (("to date", "to_date"), ("in period", "in_period")):
        part = repeat[key]
        summary.add_row(f"repeat purchase rate {name}",
                        f"{_percent(part['rate'])} ({part['repeat_customers']} of {part['customers']})")
    console.print(summary)
    money = Table("currency", "orders in period", "AOV", "customers to date", "historic CLV", title="money")
    clv = {m["currency"]: m for m in result["historic_clv"]}
    aov = {m["currency"]: m for m in result["aov"]}
    for currency in clv:
        a = aov.get(currency)
        money.add_row(currency, str(a["orders"]) if a else "0", a["average"] if a else "–",
                      str(clv[currency]["customers"]), clv[currency]["average"] or "–")
    console.print(money)
    if result["cohorts"]:
        width = max(len(c["months"]) for c in result["cohorts"])
        cohorts = Table("first order", "customers", *(f"+{i}" for i in range(width)),
                        title="cohorts: customers who ordered, by months since their first order")
        for c in result["cohorts"]:
            cells = [f"{m['customers']} ({m['percent']:.0f} %)" for m in c["months"]]
            cohorts.add_row(c["cohort"], str(c["customers"]), *cells, *([""] * (width - len(cells))))
        console.print(cohorts)
    if "series" in result:
        series = Table(result["series"]["granularity"], "B", "E", "N", "CRR", title="CRR series")
        for p in result["series"]["periods"]:
            series.add_row(p["label"], str(p["customers_at_start"]), str(p["customers_at_end"]),
                           str(p["new_customers"]), _percent(p["crr"]))
        console.print(series)


def report_product_cycle(
    store: StoreSlug,
    min_sample: Annotated[int, typer.Option(
        "--min-sample", help="repeat-purchase intervals needed before the history is trusted")
    ] = DEFAULT_MIN_SAMPLE,
    database: Database = DEFAULT_URL,
    as_json: AsJson = False,
) -> None:
    """Per product: the median days between repeat purchases by the same customer."""
    try:
        check_min_sample(min_sample, "--min-sample")
    except ReportError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store {store!r}")
            fallback = await replenish_days(conn, row.id)
            return [c.as_json() for c in await product_cycles(conn, row, min_sample=min_sample,
                                                              fallback_days=fallback)]

    found = run(database, work)
    if as_json:
        typer.echo(json.dumps({"store": store, "min_sample": min_sample, "products": found},
                              ensure_ascii=False, indent=2))
        return
    table = Table("product", "title", "buyers", "intervals", "days", "source")
    for c in found:
        table.add_row(c["product"], c["title"] or "", str(c["buyers"]), str(c["sample"]),
                      "–" if c["days"] is None else f"{c['days']:g}", c["source"] or "–")
    Console().print(table)

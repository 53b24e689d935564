"""Retention metrics over a store's orders: CRR, repeat purchase rate, AOV, historic CLV, cohorts.

Definitions, exactly as computed here:

- **Orders that count**: the store's orders with a customer that were never cancelled
  (``orders.cancelled_at`` unset), at ``orders.placed_at``.
- **Days** are calendar days in the store's time zone. A period ``[from, to]`` runs from the start of
  ``from`` to the start of the day after ``to``: both days are included whole.
- **Active at the end of day D**: ordered on one of the ``active_days`` days ending with D
  (default 365: D and the 364 days before it).
- **CRR** = (E − N) / B × 100 with B = customers active at the end of the day before ``from`` (the start
  of the period), E = customers active at the end of ``to``, N = customers whose first order ever falls
  inside the period. ``None`` when B = 0.
- **Repeat purchase rate**: customers with at least 2 orders among customers with at least 1, counting
  orders up to the end of ``to`` ("to date") and orders inside the period ("in period").
- **AOV** (per currency): the period's order totals ÷ the period's orders that carry a total.
- **Historic CLV** (per currency): order totals up to the end of ``to`` ÷ customers with an order by then.
- **Cohorts**: customers whose first order falls inside the period, by the month of that first order;
  for each month since (0 = the first order's month), how many of them ordered in that month, up to
  the end of the period (the first and last months are partial when the period does not start or end
  on a month boundary).

Everything is aggregated in the database: one ``GROUP BY customer`` scan for CRR, the CRR series and
the repeat rates, one ``GROUP BY currency`` for money, one grouped join for cohorts; the same SQL on
SQLite and PostgreSQL. Instants are computed in Python from the store's time zone and passed as
parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import orders
from afterorder.db.stores import StoreRow

DEFAULT_ACTIVE_DAYS = 365
MAX_ACTIVE_DAYS = 3650
Granularity = Literal["month", "quarter"]
GRANULARITIES: tuple[Granularity, ...] = ("month", "quarter")


class ReportError(ValueError):
    """A report was asked for with a bad parameter; the message starts with the parameter's name."""


def parse_day(name: str, text: str | None) -> date:
    """A ``YYYY-MM-DD`` day from a command-line option or query parameter called ``name``."""
    if text is None or not text.strip():
        raise ReportError(f"{name}: required; give a day as YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{name}: {text!r} is not a date; use YYYY-MM-DD") from None


def check_period(start: date, end: date, *, start_name: str = "from", end_name: str = "to") -> None:
    if start > end:
        raise ReportError(f"{start_name}: {start.isoformat()} is after {end_name} {end.isoformat()}")


def check_active_days(active_days: int, name: str = "active_days") -> None:
    if not 1 <= active_days <= MAX_ACTIVE_DAYS:
        raise ReportError(f"{name}: {active_days} is out of range; give 1 to {MAX_ACTIVE_DAYS} days")


def start_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in the zone, in UTC."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def end_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in the zone, in UTC: a day given as an end includes the whole day."""
    return start_of(day + timedelta(days=1), zone)


def _counted(store: StoreRow) -> ColumnElement[bool]:
    return and_(orders.c.store_id == store.id, orders.c.customer_id.is_not(None), orders.c.cancelled_at.is_(None))


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else part * 100 / whole


def _money(amount: Decimal, currency: str) -> Decimal:
    try:
        digits = get_currency_precision(currency)
    except Exception:  # an unknown currency code: keep cents
        digits = 2
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


# ---- CRR and repeat purchase rate: one GROUP BY customer over the orders up to the end ----


@dataclass(frozen=True)
class Crr:
    start: date
    end: date
    at_start: int  # B
    at_end: int  # E
    new: int  # N
    label: str = ""

    @property
    def rate(self) -> float | None:
        """(E − N) / B × 100, or None when nobody was active at the start."""
        return None if self.at_start == 0 else (self.at_end - self.new) * 100 / self.at_start

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label} if self.label else {}
        return {**data, "from": self.start.isoformat(), "to": self.end.isoformat(), "customers_at_start": self.at_start,
                "customers_at_end": self.at_end, "new_customers": self.new, "crr": self.rate}


@dataclass(frozen=True)
class RepeatRate:
    customers: int
    repeat_customers: int

    @property
    def rate(self) -> float | None:
        return _percent(self.repeat_customers, self.customers)

    def as_json(self) -> dict[str, Any]:
        return {"customers": self.customers, "repeat_customers": self.repeat_customers, "rate": self.rate}


async def _customer_counts(conn: AsyncConnection, store: StoreRow, pieces: Sequence[tuple[str, date, date]],
                           active_days: int) -> tuple[list[Crr], RepeatRate, RepeatRate]:
    """CRR of each of the consecutive ``pieces`` (label, first day, last day), and the repeat purchase
    rates of their whole span, from one scan of the orders grouped by customer."""
    zone = ZoneInfo(store.timezone)
    # Boundary k is the end of day_k: the day before the first piece, then the last day of each piece.
    days = [pieces[0][1] - timedelta(days=1), *(last for _, _, last in pieces)]
    bounds = [end_of(day, zone) for day in days]
    # Active at the end of day D = ordered on one of the active_days days ending with D.
    windows = [start_of(day + timedelta(days=1 - active_days), zone) for day in days]
    begin, finish = bounds[0], bounds[-1]
    placed = orders.c.placed_at

    per_customer = (
        select(
            orders.c.customer_id,
            *(func.max(case((and_(placed >= w, placed < b), 1), else_=0)).label(f"active_{k}")
              for k, (w, b) in enumerate(zip(windows, bounds, strict=True))),
            func.min(placed).label("first_order"),
            func.count().label("orders"),
            func.sum(case((placed >= begin, 1), else_=0)).label("period_orders"),
        )
        .where(_counted(store), placed < finish)
        .group_by(orders.c.customer_id)
        .subquery()
    )
    c = per_customer.c

    def total(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = [int(v) for v in (await conn.execute(select(
        *(total(c[f"active_{k}"] == 1) for k in range(len(bounds))),
        *(total(and_(c.first_order >= bounds[k], c.first_order < bounds[k + 1])) for k in range(len(pieces))),
        func.count(), total(c.orders >= 2), total(c.period_orders >= 1), total(c.period_orders >= 2),
    ))).one()]
    active, new = row[:len(bounds)], row[len(bounds):len(bounds) + len(pieces)]
    customers, repeat, period_customers, period_repeat = row[-4:]
    rates = [Crr(first, last, active[k], active[k + 1], new[k], label)
             for k, (label, first, last) in enumerate(pieces)]
    return rates, RepeatRate(customers, repeat), RepeatRate(period_customers, period_repeat)


async def crr(conn: AsyncConnection, store: StoreRow, start: date, end: date, *,
              active_days: int = DEFAULT_ACTIVE_DAYS) -> Crr:
    """The customer retention rate of the period ``[start, end]`` (whole days in the store's zone)."""
    check_period(start, end)
    check_active_days(active_days)
    return (await _customer_counts(conn, store, [("", start, end)], active_days))[0][0]


def split_period(start: date, end: date, granularity: Granularity) -> list[tuple[str, date, date]]:
    """The calendar months or quarters touching ``[start, end]``, clipped to it, with their labels."""
    if granularity not in GRANULARITIES:
        raise ReportError(f"granularity: {granularity!r} is not one of {', '.join(GRANULARITIES)}")
    check_period(start, end)
    step = 1 if granularity == "month" else 3
    month = start.month if step == 1 else (start.month - 1) // 3 * 3 + 1
    first = date(start.year, month, 1)
    pieces = []
    while first <= end:
        following = _add_months(first, step)
        label = (f"{first.year}-{first.month:02d}" if step == 1 else f"{first.year}-Q{(first.month - 1) // 3 + 1}")
        pieces.append((label, max(first, start), min(following - timedelta(days=1), end)))
        first = following
    return pieces


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def crr_series(conn: AsyncConnection, store: StoreRow, start: date, end: date,
                     granularity: Granularity = "month", *, active_days: int = DEFAULT_ACTIVE_DAYS) -> list[Crr]:
    """CRR for each calendar month or quarter of ``[start, end]`` (the first and last clipped to it)."""
    check_active_days(active_days)
    return (await _customer_counts(conn, store, split_period(start, end, granularity), active_days))[0]


# ---- money: one GROUP BY currency ----


@dataclass(frozen=True)
class Money:
    currency: str
    count: int  # orders (AOV) or customers (CLV)
    revenue: Decimal
    average: Decimal | None

    def as_json(self, count_name: str) -> dict[str, Any]:
        return {"currency": self.currency, count_name: self.count, "revenue": str(self.revenue),
                "average": None if self.average is None else str(self.average)}


async def _money_by_currency(conn: AsyncConnection, store: StoreRow, start: date,
                             end: date) -> tuple[list[Money], list[Money]]:
    zone = ZoneInfo(store.timezone)
    begin, finish = start_of(start, zone), end_of(end, zone)
    in_period = orders.c.placed_at >= begin
    rows = (await conn.execute(
        select(
            orders.c.currency,
            func.sum(case((in_period, orders.c.total))).label("period_revenue"),
            func.count(case((in_period, orders.c.total))).label("period_orders"),
            func.sum(orders.c.total).label("revenue"),
            func.count(orders.c.customer_id.distinct()).label("customers"),
        ).where(_counted(store), orders.c.placed_at < finish).group_by(orders.c.currency)
    )).all()
    aov, clv = [], []
    # The store's own currency first, then the others by name.
    for row in sorted(rows, key=lambda r: (r.currency != store.currency, r.currency)):
        period_revenue = Decimal(row.period_revenue or 0)
        revenue = Decimal(row.revenue or 0)
        if row.period_orders:
            aov.append(Money(row.currency, int(row.period_orders), _money(period_revenue, row.currency),
                             _money(period_revenue / row.period_orders, row.currency)))
        clv.append(Money(row.currency, int(row.customers), _money(revenue, row.currency),
                         _money(revenue / row.customers, row.currency) if row.customers else None))
    return aov, clv


# ---- cohorts: first-order month × months since ----


@dataclass(frozen=True)
class Cohort:
    month: str  # YYYY-MM of the first order
    customers: int
    active: list[int] = field(default_factory=list)  # customers who ordered, by months since the first order

    def as_json(self) -> dict[str, Any]:
        return {"cohort": self.month, "customers": self.customers,
                "months": [{"month": i, "customers": n, "percent": _percent(n, self.customers)}
                           for i, n in enumerate(self.active)]}


def _month_index(column: Any, boundaries: Sequence[datetime]) -> Any:
    """0 for the period's first month, 1 for the next...: ``column`` compared with month starts."""
    if not boundaries:
        return literal(0)
    return case(*((column < b, i) for i, b in enumerate(boundaries)), else_=len(boundaries))


async def cohorts(conn: AsyncConnection, store: StoreRow, start: date, end: date) -> list[Cohort]:
    check_period(start, end)
    zone = ZoneInfo(store.timezone)
    begin, finish = start_of(start, zone), end_of(end, zone)
    months = [date(start.year, start.month, 1)]
    while (following := _add_months(months[-1], 1)) <= end:
        months.append(following)
    boundaries = [start_of(m, zone) for m in months[1:]]
    firsts = (select(orders.c.customer_id, func.min(orders.c.placed_at).label("first_order"))
              .where(_counted(store), orders.c.placed_at < finish)
              .group_by(orders.c.customer_id)
              .having(func.min(orders.c.placed_at) >= begin)
              .subquery())
    # Index expressions go through a subquery so the GROUP BY names columns, not expressions with parameters.
    placed = (select(orders.c.customer_id, _month_index(firsts.c.first_order, boundaries).label("cohort"),
                     _month_index(orders.c.placed_at, boundaries).label("month"))
              .select_from(orders.join(firsts, orders.c.customer_id == firsts.c.customer_id))
              .where(_counted(store), orders.c.placed_at >= begin, orders.c.placed_at < finish)
              .subquery())
    cells = (await conn.execute(
        select(placed.c.cohort, placed.c.month, func.count(placed.c.customer_id.distinct()))
        .group_by(placed.c.cohort, placed.c.month)
    )).all()
    counts = {(int(c), int(m)): int(n) for c, m, n in cells}
    table = []
    for index, month in enumerate(months):
        size = counts.get((index, index), 0)  # everyone in a cohort ordered in its first month
        if size == 0:
            continue
        active = [counts.get((index, index + since), 0) for since in range(len(months) - index)]
        table.append(Cohort(f"{month.year}-{month.month:02d}", size, active))
    return table


# ---- the report ----


@dataclass(frozen=True)
class RetentionReport:
    store: str
    timezone: str
    active_days: int
    crr: Crr
    repeat_to_date: RepeatRate
    repeat_in_period: RepeatRate
    aov: list[Money]
    clv: list[Money]
    cohorts: list[Cohort]
    series: list[Crr] | None = None
    granularity: Granularity | None = None

    def as_json(self) -> dict[str, Any]:
        data = {
            "store": self.store, "from": self.crr.start.isoformat(), "to": self.crr.end.isoformat(),
            "timezone": self.timezone, "active_days": self.active_days,
            "retention": {k: v for k, v in self.crr.as_json().items() if k not in ("from", "to")},
            "repeat_purchase_rate": {"to_date": self.repeat_to_date.as_json(),
                                     "in_period": self.repeat_in_period.as_json()},
            "aov": [m.as_json("orders") for m in self.aov],
            "historic_clv": [m.as_json("customers") for m in self.clv],
            "cohorts": [c.as_json() for c in self.cohorts],
        }
        if self.series is not None:
            data["series"] = {"granularity": self.granularity, "periods": [p.as_json() for p in self.series]}
        return data


async def retention_report(conn: AsyncConnection, store: StoreRow, start: date, end: date, *,
                           active_days: int = DEFAULT_ACTIVE_DAYS,
                           granularity: Granularity | None = None) -> RetentionReport:
    """Every retention metric of the period ``[start, end]``; with ``granularity``, the CRR series too."""
    check_period(start, end)
    check_active_days(active_days)
    if granularity is not None and granularity not in GRANULARITIES:
        raise ReportError(f"granularity: {granularity!r} is not one of {', '.join(GRANULARITIES)}")
    pieces = split_period(start, end, granularity) if granularity is not None else [("", start, end)]
    rates, to_date, in_period = await _customer_counts(conn, store, pieces, active_days)
    # The period's B is the first piece's, its E the last piece's, and its N the sum of theirs.
    rate = Crr(start, end, rates[0].at_start, rates[-1].at_end, sum(r.new for r in rates))
    series = rates if granularity is not None else None
    aov, clv = await _money_by_currency(conn, store, start, end)
    return RetentionReport(store.slug, store.timezone, active_days, rate, to_date, in_period, aov, clv,
                           await cohorts(conn, store, start, end), series, granularity)

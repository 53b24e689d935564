"""What the messages of a period did, per flow, step and message, and day by day.

Definitions, exactly as computed here (``start`` ≤ sent_at < ``end``):

- **sent**: outbox rows with status ``sent`` whose ``sent_at`` falls in the period;
- **bounced / complained / unsubscribed**: of those, messages with a ``message.bounced`` /
  ``message.complained`` / ``message.unsubscribed`` event;
- **delivered**: sent − bounced;
- **opened**: messages with at least one human open (``engagements.machine_open`` false: Apple's
  prefetch does not count); **clicked**: messages with at least one click;
- **orders / revenue**: orders attributed to those messages (``attributions``), revenue per currency;
- rates are per cent of delivered; **revenue per recipient** = revenue ÷ delivered; the **open rate**
  is per cent of the delivered messages whose channel reports opens (email's pixel: LINE and SMS
  report none), so a message sent partly on LINE is not made to look unopened.

Each row is one message on one channel (``outbox.channel``: email, line, sms); ``by_channel`` adds
them up per channel, ``by_flow`` and ``total`` across channels.

Engagement is counted whenever it happened, for the messages sent in the period (a message sent on
the last day and opened the day after counts for the period it was sent in).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import attributions, engagements, events, flow_runs, outbox
from afterorder.domain import EventType

Key = tuple[str, int | None, str, str]  # flow ('' for none), step, template, channel
OPENS_KNOWN = frozenset({"email"})  # channels that report opens
CHANNEL_ORDER = ("email", "line", "sms")
_COMPLAINTS = {EventType.MESSAGE_BOUNCED.value: "bounced", EventType.MESSAGE_COMPLAINED.value: "complained",
               EventType.MESSAGE_UNSUBSCRIBED.value: "unsubscribed"}


def money(amount: Decimal, currency: str) -> Decimal:
    try:
        digits = get_currency_precision(currency)
    except Exception:  # an unknown currency code: keep cents
        digits = 2
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part * 100 / whole


def opens_known(channel: str) -> bool:
    """Whether messages on ``channel`` report opens (``""``: not split by channel, as email)."""
    return channel == "" or channel in OPENS_KNOWN


@dataclass
class MessageMetrics:
    flow_id: str
    step: int | None
    template: str
    channel: str = ""  # "" when not one channel's (a flow's or all messages' sum, an A/B test's arm)
    sent: int = 0
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0
    opened: int = 0
    clicked: int = 0
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    summed_open_base: int | None = None  # a sum's open_base (None: worked out from the row itself)

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    @property
    def open_base(self) -> int:
        """Delivered messages on channels that report opens: what the open rate is a rate of."""
        if self.summed_open_base is not None:
            return self.summed_open_base
        return self.delivered if opens_known(self.channel) else 0

    @property
    def open_rate(self) -> float | None:
        return _rate(self.opened, self.open_base)

    @property
    def click_rate(self) -> float | None:
        return _rate(self.clicked, self.delivered)

    @property
    def order_rate(self) -> float | None:
        return _rate(self.orders, self.delivered)

    @property
    def revenue_shown(self) -> dict[str, Decimal]:
        """Revenue per currency, to the currency's minor unit."""
        return {c: money(v, c) for c, v in self.revenue.items()}

    @property
    def revenue_per_recipient(self) -> dict[str, Decimal]:
        """Revenue ÷ delivered, per currency, to the currency's minor unit (half up)."""
        if self.delivered == 0:
            return {}
        return {c: money(v / self.delivered, c) for c, v in self.revenue.items()}

    def add(self, other: MessageMetrics) -> None:
        self.summed_open_base = (self.summed_open_base or 0) + other.open_base
        for name in ("sent", "bounced", "complained", "unsubscribed", "opened", "clicked", "orders"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for currency, amount in other.revenue.items():
            self.revenue[currency] = self.revenue.get(currency, Decimal(0)) + amount


@dataclass(frozen=True)
class DayPoint:
    day: date
    sent: int
    opened: int
    clicked: int
    orders: int


@dataclass
class PeriodMetrics:
    rows: list[MessageMetrics]
    days: list[DayPoint]

    def by_flow(self) -> dict[str, MessageMetrics]:
        flows: dict[str, MessageMetrics] = {}
        for row in self.rows:
            flows.setdefault(row.flow_id, MessageMetrics(row.flow_id, None, "")).add(row)
        return flows

    def by_channel(self) -> list[MessageMetrics]:
        """One sum per channel that sent messages in the period: email, LINE, SMS."""
        channels: dict[str, MessageMetrics] = {}
        for row in self.rows:
            channels.setdefault(row.channel, MessageMetrics("", None, "", row.channel)).add(row)
        return sorted(channels.values(), key=lambda m: _channel_rank(m.channel))

    def total(self) -> MessageMetrics:
        whole = MessageMetrics("", None, "")
        for row in self.rows:
            whole.add(row)
        return whole


def _channel_rank(channel: str) -> tuple[int, str]:
    return (CHANNEL_ORDER.index(channel) if channel in CHANNEL_ORDER else len(CHANNEL_ORDER), channel)


def _step(key: str) -> int | None:
    parts = key.split(":")
    return int(parts[3]) if len(parts) == 4 and parts[2] == "step" and parts[3].isdigit() else None


async def period_metrics(conn: AsyncConnection, store_id: int, start: datetime, end: datetime,
                         zone: ZoneInfo) -> PeriodMetrics:
    """Per (flow, step, message) metrics of the messages sent in [start, end), and a point per day
    (in ``zone``) of how many were sent that day and how many of those were opened, clicked, ordered."""
    sent_rows = await conn.execute(
        select(outbox.c.id, outbox.c.idempotency_key, outbox.c.template, outbox.c.channel, outbox.c.sent_at,
               flow_runs.c.flow_id)
        .select_from(outbox.outerjoin(flow_runs, flow_runs.c.id == outbox.c.run_id))
        .where(outbox.c.store_id == store_id, outbox.c.status == "sent", outbox.c.sent_at >= start,
               outbox.c.sent_at < end))
    keys: dict[int, Key] = {}
    sent_day: dict[int, date] = {}
    rows: dict[Key, MessageMetrics] = {}
    for r in sent_rows:
        key: Key = (r.flow_id or "", _step(r.idempotency_key), r.template, r.channel)
        keys[r.id] = key
        sent_day[r.id] = r.sent_at.astimezone(zone).date()
        rows.setdefault(key, MessageMetrics(*key)).sent += 1
    in_period = and_(outbox.c.store_id == store_id, outbox.c.status == "sent", outbox.c.sent_at >= start,
                     outbox.c.sent_at < end)
    found = await outcomes(conn, store_id, in_period, start)
    count_outcomes({outbox_id: rows[key] for outbox_id, key in keys.items()}, found)
    ordered: dict[int, int] = defaultdict(int)
    for outbox_id, _currency, _revenue in found.credited:
        ordered[outbox_id] += 1
    opened, clicked = found.opened, found.clicked
    days = _days(start, end, zone, sent_day, opened, clicked, ordered)
    ordered_rows = sorted(rows.values(), key=lambda m: (m.flow_id, m.step if m.step is not None else -1, m.template,
                                                        _channel_rank(m.channel)))
    return PeriodMetrics(ordered_rows, days)


@dataclass
class Outcomes:
    """What became of a set of sent messages, by outbox id."""

    opened: set[int] = field(default_factory=set)  # a human open (not a machine prefetch)
    clicked: set[int] = field(default_factory=set)
    credited: list[tuple[int, str, Decimal]] = field(default_factory=list)  # (outbox id, currency, revenue)
    flagged: set[tuple[str, int]] = field(default_factory=set)  # (bounced | complained | unsubscribed, outbox id)


async def outcomes(conn: AsyncConnection, store_id: int, sent: ColumnElement[bool], since: datetime) -> Outcomes:
    """Opens, clicks, attributed orders and bounce / complaint / unsubscribe events of the outbox rows
    ``sent`` selects (sent no earlier than ``since``)."""
    found = Outcomes()
    touched = await conn.execute(
        select(engagements.c.outbox_id, engagements.c.kind, engagements.c.machine_open)
        .select_from(engagements.join(outbox, outbox.c.id == engagements.c.outbox_id))
        .where(engagements.c.store_id == store_id, sent))
    for e in touched:
        if e.kind == "open" and not e.machine_open:
            found.opened.add(e.outbox_id)
        elif e.kind == "click":
            found.clicked.add(e.outbox_id)
    credited = await conn.execute(
        select(attributions.c.outbox_id, attributions.c.currency, attributions.c.revenue)
        .select_from(attributions.join(outbox, outbox.c.id == attributions.c.outbox_id))
        .where(attributions.c.store_id == store_id, sent))
    found.credited = [(a.outbox_id, a.currency, Decimal(a.revenue or 0)) for a in credited]
    complaints = await conn.execute(
        select(events.c.type, events.c.payload)
        .where(events.c.store_id == store_id, events.c.type.in_(list(_COMPLAINTS)), events.c.occurred_at >= since))
    for ev in complaints:
        ref = ((ev.payload or {}).get("message") or {}).get("outbox_id")
        if isinstance(ref, int):
            found.flagged.add((_COMPLAINTS[ev.type], ref))
    return found


def count_outcomes(row_of: dict[int, MessageMetrics], found: Outcomes) -> None:
    """Add ``found`` to the metrics row of each message (messages outside ``row_of`` are ignored)."""
    for outbox_id, currency, revenue in found.credited:
        if outbox_id in row_of:
            row = row_of[outbox_id]
            row.orders += 1
            row.revenue[currency] = row.revenue.get(currency, Decimal(0)) + revenue
    for outbox_id in found.opened & row_of.keys():
        row_of[outbox_id].opened += 1
    for outbox_id in found.clicked & row_of.keys():
        row_of[outbox_id].clicked += 1
    for name, outbox_id in found.flagged:
        if outbox_id in row_of:
            row = row_of[outbox_id]
            setattr(row, name, getattr(row, name) + 1)


def _days(start: datetime, end: datetime, zone: ZoneInfo, sent_day: dict[int, date], opened: set[int],
          clicked: set[int], ordered: dict[int, int]) -> list[DayPoint]:
    tally: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for outbox_id, day in sent_day.items():
        counts = tally[day]
        counts[0] += 1
        counts[1] += outbox_id in opened
        counts[2] += outbox_id in clicked
        counts[3] += ordered.get(outbox_id, 0)
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    points = []
    day = first
    while day <= last:
        found = tally.get(day, [0, 0, 0, 0])
        points.append(DayPoint(day, found[0], found[1], found[2], found[3]))
        day += timedelta(days=1)
    return points


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}%"


def as_json(metrics: MessageMetrics) -> dict[str, Any]:
    return {"flow_id": metrics.flow_id, "step": metrics.step, "template": metrics.template,
            "channel": metrics.channel or None, "sent": metrics.sent,
            "delivered": metrics.delivered, "opened": metrics.opened, "clicked": metrics.clicked,
            "orders": metrics.orders, "revenue": {c: str(v) for c, v in metrics.revenue.items()}}

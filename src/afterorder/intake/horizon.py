"""Times too far ahead of the server's clock, found in an event (the other half of the door's date
limits, ``intake.limits``: these need the clock, so they are checked where the event arrives).

A time that happened may be at most ``Horizon.happened`` ahead of now (``MAX_AHEAD``, one day); an
estimated delivery at most ``Horizon.estimate`` (``MAX_ESTIMATE_AHEAD``); a birth date not after
tomorrow.  Each problem names its field, as the API's 422 ``details`` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from afterorder.domain import Event
from afterorder.intake.limits import MAX_AHEAD, MAX_ESTIMATE_AHEAD, Detail, detail


@dataclass(frozen=True)
class Horizon:
    """How far ahead of the server's clock times may be (``ahead_problems``)."""

    happened: timedelta = MAX_AHEAD
    estimate: timedelta = MAX_ESTIMATE_AHEAD


def ahead_problems(event: Event, now: datetime, horizon: Horizon = Horizon(),
                   loc: tuple[int | str, ...] = ()) -> list[Detail]:
    """The times in ``event`` further ahead of ``now`` than ``horizon`` allows, each named (``loc``
    is where the event sits in the request, e.g. ``("events", 3)``)."""
    found: list[Detail] = []

    def check(value: datetime | None, where: tuple[int | str, ...], allowed: timedelta) -> None:
        if value is None:
            return
        latest = now + allowed
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if aware > latest:
            found.append(detail(loc + where, f"must be at most {_span(allowed)} ahead of the server's clock "
                                f"(not after {latest.isoformat(timespec='seconds')})", "date_too_far_ahead"))

    check(event.occurred_at, ("occurred_at",), horizon.happened)
    if event.checkout is not None:
        check(event.checkout.completed_at, ("checkout", "completed_at"), horizon.happened)
    if event.shipment is not None:
        check(event.shipment.estimated_delivery, ("shipment", "estimated_delivery"), horizon.estimate)
    if event.customer is not None and event.customer.birth_date is not None:
        tomorrow = (now + timedelta(days=1)).date()
        if event.customer.birth_date > tomorrow:
            found.append(detail((*loc, "customer", "birth_date"), f"must not be after {tomorrow.isoformat()}",
                                "date_too_far_ahead"))
    return found


def _span(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days >= 1 and days == int(days):
        return f"{int(days)} day" + ("s" if days != 1 else "")
    return f"{int(delta.total_seconds())} seconds"

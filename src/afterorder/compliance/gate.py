"""The check at send time, in the claim's transaction: may each claimed message go out now?

Transactional messages always may.  A marketing message needs a customer, consent under the
store's rule (so an unsubscribe stops every queued message from then on), must not fall in the
customer's quiet hours (deferred to their end) and must stay within the caps (else skipped,
``capped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.caps import quiet_until, recent_counts
from afterorder.compliance.consent import MarketingView, marketing_view
from afterorder.compliance.settings import ComplianceSettings, load_settings
from afterorder.db.schema import customers

NO_CUSTOMER = "marketing message without a customer"
NO_CONSENT = "no marketing consent"
CAPPED = "capped"


@dataclass(frozen=True)
class Verdict:
    blocked: str | None = None  # skipped for this reason
    defer_until: datetime | None = None  # not now: try again then (quiet hours)


SEND = Verdict()


async def judge(conn: AsyncConnection, rows: Sequence[Any], now: datetime) -> tuple[
        dict[int, Verdict], dict[int, ComplianceSettings]]:
    """A verdict for each claimed outbox row (``id, store_id, customer_id, category, channel``), oldest
    first; and the settings of their stores (delivery signs with their DKIM keys)."""
    settings = await load_settings(conn, {r.store_id for r in rows})
    marketing = [r for r in rows if r.category == "marketing"]
    verdicts: dict[int, Verdict] = {r.id: SEND for r in rows}
    if not marketing:
        return verdicts, settings
    view: MarketingView = await marketing_view(conn, [(r.store_id, r.customer_id) for r in marketing], "email")
    zones = {(r.store_id, r.id): r.timezone for r in await conn.execute(
        select(customers.c.store_id, customers.c.id, customers.c.timezone).where(
            customers.c.store_id.in_({r.store_id for r in marketing}),
            customers.c.id.in_({r.customer_id for r in marketing if r.customer_id is not None})))}
    going: list[Any] = []
    for r in marketing:
        rules = settings[r.store_id]
        if r.customer_id is None:
            verdicts[r.id] = Verdict(blocked=NO_CUSTOMER)
        elif not view.allowed(rules.rule, r.store_id, r.customer_id):
            verdicts[r.id] = Verdict(blocked=NO_CONSENT)
        elif until := quiet_until(now, rules.quiet_start, rules.quiet_end, zones.get((r.store_id, r.customer_id)),
                                  rules.timezone):
            verdicts[r.id] = Verdict(defer_until=until)
        else:
            going.append(r)
    claimed = [r.id for r in rows]
    for store_id, channel in dict.fromkeys((r.store_id, r.channel) for r in going):
        cap = settings[store_id].caps.get(channel)
        if cap is None:
            continue
        mine = [r for r in going if r.store_id == store_id and r.channel == channel]
        counts = await recent_counts(conn, store_id, channel, {r.customer_id for r in mine}, cap, now, claimed)
        for r in mine:  # oldest first: the first ones of a batch take the slots left
            if counts.get(r.customer_id, 0) >= cap.max_messages:
                verdicts[r.id] = Verdict(blocked=f"{CAPPED}: at most {cap.max_messages} marketing messages "
                                                 f"per {cap.window_hours} h on {channel}")
            else:
                counts[r.customer_id] = counts.get(r.customer_id, 0) + 1
    return verdicts, settings

"""The check at send time, in the claim's transaction: may each claimed message go out now?

Transactional messages always may.  A marketing message needs a customer and consent on its channel
(so an unsubscribe or a STOP stops every queued message from then on):

* email: consent under the store's rule (opt-in, soft opt-in, opt-out);
* SMS: the customer said yes to SMS, whatever the store's rule for email (TCPA, 特定電子メール法,
  China's rules for marketing SMS all ask for it); to a Chinese number only between 08:00 and 21:00
  China time (deferred to 08:00 otherwise);
* LINE: the customer follows the store's account now.

It must not fall in the customer's quiet hours (deferred to their end) and must stay within the caps
(else skipped, ``capped``).  Quiet hours and caps count across channels: a cap set for a channel
(or for ``all``) counts the customer's recent marketing messages on every channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.compliance.caps import quiet_until, recent_counts
from afterorder.compliance.consent import MarketingView, marketing_view
from afterorder.compliance.settings import ComplianceSettings, load_settings
from afterorder.db.schema import customers

NO_CUSTOMER = "marketing message without a customer"
NO_CONSENT = "no marketing consent"
NO_SMS_CONSENT = "no consent to marketing by SMS"
NOT_FOLLOWING = "does not follow the store's LINE account"
CAPPED = "capped"
ALL_CHANNELS = "all"  # a cap for every channel
CHINA = ZoneInfo("Asia/Shanghai")
CHINA_SMS_HOURS = (time(8, 0), time(21, 0))  # marketing SMS to Chinese numbers only in these hours


@dataclass(frozen=True)
class Verdict:
    blocked: str | None = None  # skipped for this reason
    defer_until: datetime | None = None  # not now: try again then (quiet hours)


SEND = Verdict()


async def judge(conn: AsyncConnection, rows: Sequence[Any], now: datetime) -> tuple[
        dict[int, Verdict], dict[int, ComplianceSettings]]:
    """A verdict for each claimed outbox row (``id, store_id, customer_id, category, channel, recipient``),
    oldest first; and the settings of their stores (delivery signs with their DKIM keys)."""
    settings = await load_settings(conn, {r.store_id for r in rows})
    marketing = [r for r in rows if r.category == "marketing"]
    verdicts: dict[int, Verdict] = {r.id: SEND for r in rows}
    if not marketing:
        return verdicts, settings
    subjects = [(r.store_id, r.customer_id) for r in marketing]
    views = {channel: await marketing_view(conn, [(r.store_id, r.customer_id) for r in marketing
                                                  if r.channel == channel], channel)
             for channel in ("email", "sms") if any(r.channel == channel for r in marketing)}
    people = {(r.store_id, r.id): r for r in await conn.execute(
        select(customers.c.store_id, customers.c.id, customers.c.timezone, customers.c.line_following).where(
            customers.c.store_id.in_({s for s, _ in subjects}),
            customers.c.id.in_({c for _, c in subjects if c is not None})))}
    going: list[Any] = []
    for r in marketing:
        rules = settings[r.store_id]
        person = people.get((r.store_id, r.customer_id))
        if r.customer_id is None:
            verdicts[r.id] = Verdict(blocked=NO_CUSTOMER)
        elif refusal := _no_consent(r, rules, views, person):
            verdicts[r.id] = Verdict(blocked=refusal)
        elif until := quiet_until(now, rules.quiet_start, rules.quiet_end, person.timezone if person else None,
                                  rules.timezone) or _china_sms_wait(r, now):
            verdicts[r.id] = Verdict(defer_until=until)
        else:
            going.append(r)
    claimed = [r.id for r in rows]
    for store_id, channel in dict.fromkeys((r.store_id, r.channel) for r in going):
        caps = settings[store_id].caps
        cap = caps.get(channel) or caps.get(ALL_CHANNELS)
        if cap is None:
            continue
        mine = [r for r in going if r.store_id == store_id and r.channel == channel]
        counts = await recent_counts(conn, store_id, None, {r.customer_id for r in mine}, cap, now, claimed)
        for r in mine:  # oldest first: the first ones of a batch take the slots left
            if counts.get(r.customer_id, 0) >= cap.max_messages:
                verdicts[r.id] = Verdict(blocked=f"{CAPPED}: at most {cap.max_messages} marketing messages "
                                                 f"per {cap.window_hours} h on every channel")
            else:
                counts[r.customer_id] = counts.get(r.customer_id, 0) + 1
    return verdicts, settings


def _no_consent(row: Any, rules: ComplianceSettings, views: dict[str, MarketingView], person: Any) -> str | None:
    """Why this marketing message may not go on its channel, or None when it may."""
    if row.channel == "line":
        return None if person is not None and person.line_following else NOT_FOLLOWING
    if row.channel == "sms":
        granted = views["sms"].status.get((row.store_id, row.customer_id)) == "granted"
        return None if granted else NO_SMS_CONSENT
    return None if views["email"].allowed(rules.rule, row.store_id, row.customer_id) else NO_CONSENT


def _china_sms_wait(row: Any, now: datetime) -> datetime | None:
    """A marketing SMS to a Chinese number outside 08:00–21:00 China time waits for 08:00."""
    if row.channel != "sms" or not str(row.recipient).startswith("+86"):
        return None
    local = now.astimezone(CHINA)
    start, end = CHINA_SMS_HOURS
    if start <= local.time().replace(tzinfo=None) < end:
        return None
    day = local.date() + (timedelta(days=1) if local.time().replace(tzinfo=None) >= end else timedelta())
    return datetime.combine(day, start, tzinfo=CHINA).astimezone(UTC)

"""The variables a flow message gets beyond store / customer / order (see the README, "Templates"):

- ``trigger``: the payload of the event that started the run (a checkout's lines and link, a restocked
  product), ``{}`` when there is none;
- ``coupon``: the step's coupon (code, percent, amount, expires_at) when the send step asks for one;
- ``recommendations`` / ``collection``: products picked for the customer when the step asks for N;
- ``params``: the send step's fixed values (``params: {signature: ...}``).

Every message gets all five (empty when not asked for), so one template works with or without them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.content.render import FLOW_EXTRAS
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import events
from afterorder.flows.engine import SendDecision
from afterorder.promotions.coupons import issue
from afterorder.promotions.recommendations import recommend


def empty_extras(trigger: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {**FLOW_EXTRAS, "trigger": dict(trigger or {}), "recommendations": [], "collection": [], "params": {}}


_PAYLOADS = select(events.c.id, events.c.payload).where(in_keys(events.c.id, "ids"))


async def trigger_payloads(conn: AsyncConnection, runs: Iterable[Mapping[Any, Any]]) -> dict[int, dict[str, Any]]:
    """The starting event's payload of each run, by run id (one query)."""
    wanted: dict[int, list[int]] = {}  # one restock starts many runs
    for r in runs:
        if r.get("trigger_event_id") is not None:
            wanted.setdefault(r["trigger_event_id"], []).append(r["id"])
    if not wanted:
        return {}
    found: dict[int, dict[str, Any]] = {}
    for row in await conn.execute(_PAYLOADS, {"ids": list(wanted)}):
        for run_id in wanted[row.id]:
            found[run_id] = dict(row.payload or {})
    return found


async def promotion_extras(conn: AsyncConnection, store_id: int, run: Mapping[Any, Any], send: SendDecision,
                           now: datetime) -> dict[str, Any]:
    """Issue the step's coupon (the same one again on a retry) and pick its recommendations."""
    found: dict[str, Any] = {}
    step = send.promotion
    if step is None:
        return found
    found["params"] = dict(step.params)
    if step.coupon is not None:
        coupon = await issue(conn, store_id, step.coupon, run_id=run["id"], step=send.step,
                             customer_id=run.get("customer_id"), now=now)
        found["coupon"] = coupon.as_template()
    if step.recommendations:
        picks = await recommend(conn, store_id, run.get("customer_id"), run.get("order_id"), step.recommendations)
        found["recommendations"] = picks.items
        found["collection"] = picks.collection
    return found

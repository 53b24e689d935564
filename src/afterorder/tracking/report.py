"""What each flow step's message did: sent, opened (by people; Apple's prefetch counted apart),
clicked, and the orders and revenue attributed to it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import attributions, engagements, flow_runs, outbox

Key = tuple[str | None, int | None, str]  # flow, step, template


def _step(key: str) -> int | None:
    parts = key.split(":")
    return int(parts[3]) if len(parts) == 4 and parts[3].isdigit() else None


async def engagement_report(conn: AsyncConnection, store_id: int, flow_id: str | None = None) -> list[dict[str, Any]]:
    rows: dict[Key, dict[str, Any]] = defaultdict(lambda: {
        "sent": 0, "opened": 0, "machine_opened_only": 0, "clicked": 0, "clicks": 0, "orders": 0, "revenue": {}})
    sent = (select(flow_runs.c.flow_id, outbox.c.idempotency_key, outbox.c.template)
            .select_from(outbox.outerjoin(flow_runs, flow_runs.c.id == outbox.c.run_id))
            .where(outbox.c.store_id == store_id, outbox.c.status == "sent"))
    if flow_id:
        sent = sent.where(flow_runs.c.flow_id == flow_id)
    for r in await conn.execute(sent):
        rows[(r.flow_id, _step(r.idempotency_key), r.template)]["sent"] += 1
    human_open = and_(engagements.c.kind == "open", engagements.c.machine_open.is_(False))
    machine_open = and_(engagements.c.kind == "open", engagements.c.machine_open.is_(True))
    click = engagements.c.kind == "click"
    per_message = (select(engagements.c.flow_id, engagements.c.step, engagements.c.template, engagements.c.outbox_id,
                          func.max(case((human_open, 1), else_=0)).label("human"),
                          func.max(case((machine_open, 1), else_=0)).label("machine"),
                          func.sum(case((click, 1), else_=0)).label("clicks"))
                   .where(engagements.c.store_id == store_id)
                   .group_by(engagements.c.flow_id, engagements.c.step, engagements.c.template,
                             engagements.c.outbox_id))
    if flow_id:
        per_message = per_message.where(engagements.c.flow_id == flow_id)
    for r in await conn.execute(per_message):
        row = rows[(r.flow_id, r.step, r.template)]
        row["opened"] += int(r.human)
        row["machine_opened_only"] += int(r.machine and not r.human)
        row["clicked"] += int(bool(r.clicks))
        row["clicks"] += int(r.clicks or 0)
    credited = (select(attributions.c.flow_id, attributions.c.step, attributions.c.template,
                       attributions.c.currency, func.count(distinct(attributions.c.order_id)).label("orders"),
                       func.sum(attributions.c.revenue).label("revenue"))
                .where(attributions.c.store_id == store_id)
                .group_by(attributions.c.flow_id, attributions.c.step, attributions.c.template,
                          attributions.c.currency))
    if flow_id:
        credited = credited.where(attributions.c.flow_id == flow_id)
    for r in await conn.execute(credited):
        row = rows[(r.flow_id, r.step, r.template)]
        row["orders"] += int(r.orders)
        row["revenue"][r.currency] = str(r.revenue or 0)
    return [{"flow_id": f, "step": s, "template": t, **v}
            for (f, s, t), v in sorted(rows.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or 0, kv[0][2]))]

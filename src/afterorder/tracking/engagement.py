"""Opens and clicks: verified tokens become ``message.opened`` / ``message.clicked`` events, stored
through the intake (source ``tracking``) so flows can wait for them; the intake's projection
(``tracking.projection``) writes the ``engagements`` rows the dashboard counts.

Apple Mail Privacy Protection fetches every image of a message through Apple's proxies when the
message arrives, whether or not anyone reads it.  Such an open is recorded with
``machine_open = true`` and not counted as a human open (nor used for attribution).  The
heuristic, on what the pixel request carries:

* the user agent is exactly ``Mozilla/5.0`` (Apple's image proxy sends that and nothing more;
  mail clients and browsers always add a platform and engine); or
* the client address is in ``17.0.0.0/8``, the block Apple owns and its proxies fetch from.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.db.schema import flow_runs, outbox
from afterorder.db.stores import StoreRow
from afterorder.domain import Event, EventSink, EventType, MessageRef
from afterorder.tracking.projection import TRACKING

APPLE_PROXY_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
APPLE_PROXY_USER_AGENT = "Mozilla/5.0"


def is_machine_open(user_agent: str | None, ip: str | None) -> bool:
    if (user_agent or "").strip() == APPLE_PROXY_USER_AGENT:
        return True
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address in network for network in APPLE_PROXY_NETWORKS)


@dataclass(frozen=True)
class SentMessage:
    outbox_id: int
    customer_id: int | None
    order_id: int | None
    flow_id: str | None
    step: int | None
    template: str


def _step(idempotency_key: str) -> int | None:
    parts = idempotency_key.split(":")
    return int(parts[3]) if len(parts) == 4 and parts[2] == "step" and parts[3].isdigit() else None


async def find_message(conn: AsyncConnection, store_id: int, *, key: str | None = None,
                       message_ids: Sequence[str] = ()) -> SentMessage | None:
    """The sent message with this idempotency key, or with one of these Message-IDs."""
    query = (select(outbox.c.id, outbox.c.customer_id, outbox.c.order_id, outbox.c.template,
                    outbox.c.idempotency_key, flow_runs.c.flow_id)
             .select_from(outbox.outerjoin(flow_runs, flow_runs.c.id == outbox.c.run_id))
             .where(outbox.c.store_id == store_id))
    if key is not None:
        query = query.where(outbox.c.idempotency_key == key)
    elif message_ids:
        query = query.where(outbox.c.message_id.in_(list(message_ids)))
    else:
        return None
    row = (await conn.execute(query.limit(1))).first()
    if row is None:
        return None
    return SentMessage(row.id, row.customer_id, row.order_id, row.flow_id, _step(row.idempotency_key), row.template)


async def record(engine: AsyncEngine, intake: EventSink, store: StoreRow, key: str, kind: EventType, now: datetime, *,
                 url: str | None = None, user_agent: str | None = None, ip: str | None = None) -> bool:
    """Store one open or click of the message ``key``; False when there is no such message."""
    async with engine.connect() as conn:
        message = await find_message(conn, store.id, key=key)
    if message is None:
        return False
    properties: dict[str, Any] = {"user_agent": (user_agent or "")[:500], "ip": ip or ""}
    if kind is EventType.MESSAGE_OPENED:
        properties["machine_open"] = is_machine_open(user_agent, ip)
    event = Event(id=f"{kind.value}:{uuid.uuid4().hex}", type=kind, occurred_at=now, properties=properties,
                  message=MessageRef(outbox_id=message.outbox_id, flow_id=message.flow_id, step=message.step,
                                     template=message.template, url=url))
    await intake.ingest(store, [event], source=TRACKING)
    return True

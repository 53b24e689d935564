"""Recording a change made with the ``afterorder`` command: the actor is ``cli:<os user>``, the
origin ``local``, the time the system clock's."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.audit.log import Change, record
from afterorder.audit.sources import command_line
from afterorder.clock import SystemClock


async def by_command(conn: AsyncConnection, store_id: int, change: Change) -> None:
    await record(conn, store_id, command_line(), change, SystemClock().now())

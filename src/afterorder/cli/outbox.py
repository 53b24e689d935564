"""``afterorder outbox list``: the messages queued and sent, newest first, each with its delivery attempts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from afterorder.cli.common import Database, fail, run
from afterorder.db.database import DEFAULT_URL
from afterorder.db.schema import delivery_attempts, outbox
from afterorder.db.stores import get_store


def outbox_list(database: Database = DEFAULT_URL, store: Annotated[str | None, typer.Option()] = None,
                status: Annotated[str | None, typer.Option()] = None, limit: int = 50,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Messages with their delivery attempts, newest first."""

    async def work(engine: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            query = select(outbox.c.id, outbox.c.store_id, outbox.c.template, outbox.c.locale, outbox.c.recipient,
                           outbox.c.status, outbox.c.attempts, outbox.c.next_attempt_at, outbox.c.last_error,
                           outbox.c.message_id)
            if store:
                target = await get_store(conn, store)
                if target is None:
                    raise fail(f"no store called {store!r}")
                query = query.where(outbox.c.store_id == target.id)
            if status:
                query = query.where(outbox.c.status == status)
            rows = [dict(r) for r in (await conn.execute(query.order_by(outbox.c.id.desc()).limit(limit))).mappings()]
            for r in rows:
                tries = await conn.execute(select(delivery_attempts.c.attempt, delivery_attempts.c.outcome,
                                                  delivery_attempts.c.code, delivery_attempts.c.detail,
                                                  delivery_attempts.c.started_at)
                                           .where(delivery_attempts.c.outbox_id == r["id"])
                                           .order_by(delivery_attempts.c.attempt))
                r["attempt_log"] = [dict(t) for t in tries.mappings()]
            return rows

    rows = run(database, work)
    if as_json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    table = Table("id", "template", "locale", "to", "status", "tries", "next try", "last error")
    for r in rows:
        table.add_row(str(r["id"]), r["template"], r["locale"], r["recipient"], r["status"], str(r["attempts"]),
                      r["next_attempt_at"].strftime("%Y-%m-%d %H:%M:%S") if r["status"] == "queued" else "",
                      (r["last_error"] or "")[:60])
    Console().print(table)

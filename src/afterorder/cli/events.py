"""``afterorder events send FILE --store SLUG``: a JSON-lines file of events through the intake,
as if the store had sent them (flows start, wake and exit); all or nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from afterorder.cli.common import Database, FlowDirs, fail, run
from afterorder.clock import SystemClock
from afterorder.db.database import DEFAULT_URL
from afterorder.db.stores import get_store
from afterorder.domain import Event
from afterorder.flows.catalog import FlowCatalog
from afterorder.flows.spec import FlowError
from afterorder.intake.limits import Refused, ahead_problems, read_json
from afterorder.intake.pipeline import Intake
from afterorder.web.errors import validation_details


def events_send(file: Path, store: Annotated[str, typer.Option(help="store slug")],
                database: Database = DEFAULT_URL, flow_dirs: FlowDirs = None) -> None:
    """Store the events of a JSON-lines file (one event per line); all or nothing."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    parsed: list[Event] = []
    raws: list[Any] = []
    problems: list[str] = []
    now = SystemClock().now()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = read_json(line.encode())
            event = Event.model_validate(raw)
        except Refused as exc:
            reason = f"not JSON: {exc.cause}" if exc.code == "invalid_json" else str(exc)
            problems.append(f"{file}:{number}: {reason}")
            continue
        except ValidationError as exc:
            for d in validation_details(exc):
                problems.append(f"{file}:{number}: {d['field']}: {d['message']}")
            continue
        ahead = ahead_problems(event, now)
        problems.extend(f"{file}:{number}: {d['field']}: {d['message']}" for d in ahead)
        if not ahead:
            parsed.append(event)
            raws.append(raw)
    if problems:
        raise fail("nothing was stored:\n" + "\n".join(problems[:50]))
    try:
        catalog = FlowCatalog.load(flow_dirs or [])
    except FlowError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> dict[str, int]:
        async with engine.connect() as conn:
            target = await get_store(conn, store)
        if target is None:
            raise fail(f"no store called {store!r}")
        intake = Intake(engine, catalog, SystemClock())
        counts = {"stored": 0, "duplicate": 0, "runs_started": 0}
        for start in range(0, len(parsed), 500):
            for result in await intake.ingest(target, parsed[start:start + 500], source="file",
                                              raw=raws[start:start + 500]):
                counts[result.status] += 1
                counts["runs_started"] += result.runs_started
        return counts

    typer.echo(json.dumps(run(database, work)))

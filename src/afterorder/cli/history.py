"""``afterorder import customers|orders|products FILE --store SLUG``: a store's history from files
(``afterorder import ecwid --store SLUG``: from Ecwid's API, ``cli.history_ecwid``).

History never triggers flows: the events are stored and projected (customers, orders, catalog)
with ``historical=True``, so a 2019 order gets no confirmation mail.  The command says so.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from afterorder.cli.common import Database, SecretKey, err, fail, run
from afterorder.clock import SystemClock
from afterorder.db.database import DEFAULT_URL
from afterorder.db.stores import get_store
from afterorder.flows.catalog import FlowCatalog
from afterorder.history import FileFormatError, ImportReport, import_file, open_source
from afterorder.history.formats import KINDS, Kind
from afterorder.history.loader import prepare_engine, refresh_statistics
from afterorder.history.records import Context
from afterorder.intake.pipeline import Intake

NOTICE = "history import: flows are not triggered (no messages go out for past orders or customers)"
SHOWN_REJECTS = 20


def import_history(
    kind: Annotated[str, typer.Argument(help="customers, orders or products (from FILE); or ecwid (from its API)")],
    store: Annotated[str, typer.Option(help="store slug")],
    file: Annotated[Path | None, typer.Argument(
        help="a .csv (Shopify's or EC-CUBE's export, or afterorder's columns; UTF-8 or Shift_JIS) or .jsonl file "
             "(not for ecwid)")] = None,
    database: Database = DEFAULT_URL,
    secret_key: SecretKey = None,
    file_format: Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: from the extension)")]
    = None,
    rejects: Annotated[Path | None, typer.Option("--rejects", help="write the rejected rows (row, reason) to this CSV")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    history: Annotated[bool, typer.Option(
        "--history", help="say it explicitly: the rows are history (an import always is; flows never see them)")]
    = True,
) -> None:
    """Import past customers, orders or products as history: stored and projected, never sent to flows.

    To make events start flows, send them live instead: ``afterorder events send FILE.jsonl``.
    ``afterorder import ecwid --store SLUG`` reads the connected Ecwid store's orders page by page."""
    if kind == "ecwid":
        from afterorder.cli.history_ecwid import import_ecwid

        return import_ecwid(store, database, secret_key, as_json)
    if kind not in KINDS:
        raise fail(f"what to import: customers, orders or products (from a FILE), or ecwid; not {kind!r}")
    if file is None:
        raise fail(f"importing {kind} needs a FILE (.csv or .jsonl)")
    path: Path = file
    err.print(NOTICE, highlight=False)

    async def work(engine: Any) -> ImportReport:
        async with engine.connect() as conn:
            target = await get_store(conn, store)
        if target is None:
            raise fail(f"no store called {store!r}")
        ctx = Context(file=path.name, timezone=ZoneInfo(target.timezone), currency=target.currency,
                      now=SystemClock().now())
        try:
            source = open_source(path, _kind(kind), ctx, file_format)
        except FileFormatError as exc:
            raise fail(str(exc)) from None
        await prepare_engine(engine)
        intake = Intake(engine, FlowCatalog.load([]), SystemClock())
        progress = Progress(TextColumn(f"importing {kind}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                            TimeElapsedColumn(), console=err, transient=False)
        task = progress.add_task(kind, total=source.size)
        try:
            with progress:
                report = await import_file(engine, intake, target, source, parse_process=True,
                                           on_progress=lambda done: progress.update(task, completed=done))
        except FileFormatError as exc:
            raise fail(f"{path.name}: {exc} (the rows before it are imported; fix the file and run again)") from None
        except SQLAlchemyError as exc:
            raise fail(f"the database refused a batch: {exc.__class__.__name__}: {str(exc).splitlines()[0]} "
                       "(the batches before it are imported; running the same file again is safe)") from None
        finally:
            source.close()
        await refresh_statistics(engine)
        return report

    _faster_event_loop()
    report = run(database, work)
    if rejects is not None:
        _write_rejects(rejects, report)
    if as_json:
        typer.echo(json.dumps(report.as_json()))
    else:
        _print_summary(report, rejects)


def _faster_event_loop() -> None:
    """uvloop where it is installed: the import hands thousands of statements to the database driver."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _kind(kind: str) -> Kind:
    for known in KINDS:
        if known == kind:
            return known
    raise fail(f"what to import: customers, orders or products, not {kind!r}")


def _write_rejects(path: Path, report: ImportReport) -> None:
    try:
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["row", "reason"])
            writer.writerows([r.row, r.reason] for r in report.rejected)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None


def _print_summary(report: ImportReport, rejects: Path | None) -> None:
    out = Console(soft_wrap=True)
    rate = report.records / report.seconds if report.seconds else 0.0
    out.print(f"{report.file} ({report.format}): {report.records} {report.kind} read, {report.new} new, "
              f"{report.unchanged} already imported; {report.events_stored} events stored as history, "
              f"{report.events_duplicate} already there; {len(report.rejected)} rejected; "
              f"{report.seconds:.1f} s ({rate:,.0f} {report.kind}/s)", highlight=False)
    if not report.rejected:
        return
    table = Table("row", "reason", title=f"rejected rows ({len(report.rejected)})")
    for r in report.rejected[:SHOWN_REJECTS]:
        table.add_row(str(r.row), r.reason)
    out.print(table)
    if len(report.rejected) > SHOWN_REJECTS:
        hint = f"all of them are in {rejects}" if rejects else "pass --rejects FILE.csv to get all of them"
        out.print(f"… and {len(report.rejected) - SHOWN_REJECTS} more; {hint}", highlight=False)

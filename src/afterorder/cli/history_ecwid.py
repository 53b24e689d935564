"""``afterorder import ecwid --store SLUG``: the connected Ecwid store's order history, with a progress bar.

The orders are read from Ecwid's REST API page by page (``intake.ecwid_history``) with the store id,
token (opened with the secret key) and API base given to ``afterorder store connect SLUG ecwid``, and
stored as history: flows never see them.  Running it again stores nothing twice.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from afterorder.cli.common import err, fail, run
from afterorder.clock import SystemClock
from afterorder.db.platforms import get_connection
from afterorder.db.stores import get_store
from afterorder.flows.catalog import FlowCatalog
from afterorder.history.loader import refresh_statistics
from afterorder.intake.ecwid_api import EcwidApi, EcwidError
from afterorder.intake.ecwid_history import EcwidImport, import_orders
from afterorder.intake.pipeline import Intake
from afterorder.keys.sealing import SealError, sealer_for

NOTICE = "history import: flows are not triggered (no messages go out for past orders)"


def import_ecwid(slug: str, database: str, secret_key: str | None, as_json: bool) -> None:
    err.print(NOTICE, highlight=False)
    try:
        sealer = sealer_for(database, secret_key)
    except SealError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> EcwidImport:
        async with engine.connect() as conn:
            store = await get_store(conn, slug)
            try:
                connection = await get_connection(conn, store.id, "ecwid", sealer=sealer) if store else None
            except SealError as exc:
                raise fail(str(exc)) from None
        if store is None:
            raise fail(f"no store called {slug!r}")
        if connection is None or not connection.account_id or not connection.token:
            raise fail(f"store {slug!r} has not connected Ecwid: run 'afterorder store connect {slug} ecwid "
                       "--store-id N --token T --client-secret S' first")
        clock = SystemClock()
        intake = Intake(engine, FlowCatalog.load([]), clock)
        progress = Progress(TextColumn("importing Ecwid orders"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err, transient=False)
        task = progress.add_task("orders", total=None)
        async with httpx.AsyncClient(timeout=30.0, follow_redirects=False) as http:
            api = EcwidApi(http, connection.account_id, connection.token, connection.api_url)
            try:
                with progress:
                    report = await import_orders(intake, store, api, clock.now(), on_page=lambda r: progress.update(
                        task, completed=r.orders, total=r.total))
            except EcwidError as exc:
                raise fail(f"{exc.message} (the pages before it are imported; running the import again is safe)"
                           ) from None
        await refresh_statistics(engine)
        return report

    report = run(database, work)
    if as_json:
        typer.echo(json.dumps({"orders": report.orders, "total": report.total, "pages": report.pages,
                               "events_stored": report.stored, "events_duplicate": report.duplicate}))
        return
    typer.echo(f"{report.orders} Ecwid orders read in {report.pages} pages; {report.stored} events stored as "
               f"history, {report.duplicate} already there")

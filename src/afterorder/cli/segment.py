"""``afterorder segment``: define segments and see who is in them, as of now."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from afterorder.cli.common import Database, fail, run
from afterorder.clock import SystemClock
from afterorder.db.database import DEFAULT_URL
from afterorder.db.stores import StoreRow, get_store
from afterorder.segments import membership
from afterorder.segments.membership import SegmentError

StoreSlug = Annotated[str, typer.Option("--store", help="store slug")]
AsJson = Annotated[bool, typer.Option("--json")]


async def _store(conn: Any, slug: str) -> StoreRow:
    row = await get_store(conn, slug)
    if row is None:
        raise fail(f"no store {slug!r}")
    return row


def _read_definition(file: Path) -> tuple[Any, str | None]:
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise fail(f"{file}: not YAML: {exc}") from None
    if isinstance(doc, dict) and "condition" in doc:
        extra = set(doc) - {"condition", "name", "description"}
        if extra:
            raise fail(f"{file}: unknown key(s) {sorted(extra)}; a segment file has name and condition")
        return doc["condition"], doc.get("name")
    return doc, None


def segment_define(slug: str, store: StoreSlug, file: Annotated[Path, typer.Option("--file", help="YAML or JSON")],
                   database: Database = DEFAULT_URL,
                   name: Annotated[str | None, typer.Option("--name")] = None) -> None:
    """Create or replace a segment from a file: `{name: ..., condition: {...}}` or just the condition."""
    definition, named = _read_definition(file)

    async def work(engine: Any) -> int:
        now = SystemClock().now()
        async with engine.begin() as conn:
            row = await _store(conn, store)
            try:
                segment = await membership.define(conn, row, slug, definition, now, name or named)
            except SegmentError as exc:
                raise fail(f"{file}: {exc}") from None
            return await membership.count(conn, row, segment, now)

    typer.echo(f"segment {slug}: {run(database, work)} customers now")


def segment_list(store: StoreSlug, database: Database = DEFAULT_URL, as_json: AsJson = False) -> None:
    """Every segment of the store with its member count now."""

    async def work(engine: Any) -> list[dict[str, Any]]:
        now = SystemClock().now()
        async with engine.connect() as conn:
            row = await _store(conn, store)
            return [{"slug": s.slug, "name": s.name, "count": await membership.count(conn, row, s, now),
                     "condition": s.definition} for s in await membership.listing(conn, row)]

    found = run(database, work)
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("segment", "name", "customers")
    for s in found:
        table.add_row(s["slug"], s["name"], str(s["count"]))
    Console().print(table)


def _one(database: str, store: str, slug: str, then: Any) -> Any:
    async def work(engine: Any) -> Any:
        now = SystemClock().now()
        async with engine.connect() as conn:
            row = await _store(conn, store)
            try:
                segment = await membership.get(conn, row, slug)
                return await then(conn, row, segment, now)
            except SegmentError as exc:
                raise fail(str(exc)) from None

    return run(database, work)


def segment_count(slug: str, store: StoreSlug, database: Database = DEFAULT_URL) -> None:
    """How many customers are in the segment now."""
    typer.echo(_one(database, store, slug, membership.count))


def _plain(member: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if k == "total_spent" else v)
            for k, v in member.items()}


def segment_members(slug: str, store: StoreSlug, database: Database = DEFAULT_URL, as_json: AsJson = False,
                    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
                    offset: Annotated[int, typer.Option("--offset", min=0)] = 0) -> None:
    """The members now (id, email, name, country, orders, spent, last order)."""

    async def then(conn: Any, row: StoreRow, segment: Any, now: Any) -> list[dict[str, Any]]:
        return await membership.members(conn, row, segment, now, limit=limit, offset=offset)

    found = [_plain(m) for m in _one(database, store, slug, then)]
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("id", "email", "name", "country", "orders", "spent", "last order")
    for m in found:
        table.add_row(m["id"], m["email"] or "", " ".join(filter(None, (m["first_name"], m["last_name"]))),
                      m["country"] or "", str(m["order_count"]), m["total_spent"], (m["last_order_at"] or "")[:10])
    Console().print(table)


def segment_export(slug: str, store: StoreSlug, database: Database = DEFAULT_URL,
                   output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV file (default: stdout)")]
                   = None) -> None:
    """Every member as CSV."""

    async def then(conn: Any, row: StoreRow, segment: Any, now: Any) -> list[dict[str, Any]]:
        return await membership.members(conn, row, segment, now)

    found = [_plain(m) for m in _one(database, store, slug, then)]
    columns = ["id", "email", "first_name", "last_name", "country", "locale", "order_count", "total_spent",
               "last_order_at"]
    handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(found)
    finally:
        if output:
            handle.close()
    if output:
        typer.echo(f"{len(found)} customers written to {output}", err=True)

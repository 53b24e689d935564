"""``afterorder content``: the per-store content the built-in flows read (how-to blocks by category,
the profile survey's questions, NPS alerts and links, review links, the UGC ask, made-to-order lead
times).  See :mod:`afterorder.content.store_content` for each document's fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from sqlalchemy import select

from afterorder.cli.common import Database, fail, run
from afterorder.clock import SystemClock
from afterorder.content.store_content import DOCUMENTS, ContentError, save_content
from afterorder.db.database import DEFAULT_URL
from afterorder.db.schema import store_content
from afterorder.db.stores import get_store

StoreSlug = Annotated[str, typer.Option("--store", help="store slug")]


def content_set(key: Annotated[str, typer.Argument(help=", ".join(DOCUMENTS))], store: StoreSlug,
                file: Annotated[Path, typer.Option("--file", help="YAML or JSON")],
                database: Database = DEFAULT_URL) -> None:
    """Set (replace) one content document of a store from a file."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise fail(f"{file}: not YAML: {exc}") from None

    async def work(engine: Any) -> None:
        async with engine.begin() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store {store!r}")
            try:
                await save_content(conn, row.id, key, data, SystemClock().now())
            except ContentError as exc:
                raise fail(f"{file}: {exc}") from None

    run(database, work)
    typer.echo(f"{store}: content {key} set")


def content_show(key: str, store: StoreSlug, database: Database = DEFAULT_URL) -> None:
    """Print one content document of a store as JSON."""
    async def work(engine: Any) -> Any:
        async with engine.connect() as conn:
            row = await get_store(conn, store)
            if row is None:
                raise fail(f"no store {store!r}")
            return (await conn.execute(select(store_content.c.data).where(
                store_content.c.store_id == row.id, store_content.c.key == key))).scalar()

    data = run(database, work)
    if data is None:
        raise fail(f"{store} has no content {key!r}")
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))

"""``afterorder db upgrade``: create the schema, or migrate it to the current version.

Every other command migrates the database it opens too (``common.run``); this one does only that.
"""

from __future__ import annotations

from typing import Any

import typer

from afterorder.cli.common import Database, run
from afterorder.db.database import DEFAULT_URL


def db_upgrade(database: Database = DEFAULT_URL) -> None:
    """Create or migrate the schema to the current version."""

    async def work(_engine: Any) -> None:
        return None

    run(database, work)
    typer.echo("database is at the current schema")

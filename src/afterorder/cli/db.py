"""``afterorder db upgrade``: create the schema, or migrate it to the current version, then seal the
secrets an older version stored in plain text (``afterorder.keys.stored``: a migration cannot
know the key, so this is done right after it, as ``serve`` and ``worker`` do at start).

Every other command migrates the database it opens too (``common.run``); this one does only that.
"""

from __future__ import annotations

from typing import Any

import typer

from afterorder.cli.common import Database, SecretKey, run
from afterorder.cli.secrets import configured_sealer
from afterorder.db.database import DEFAULT_URL
from afterorder.db.sealed_secrets import seal_at_start


def db_upgrade(database: Database = DEFAULT_URL, secret_key: SecretKey = None) -> None:
    """Create or migrate the schema to the current version; seal secrets stored in plain text."""

    async def work(engine: Any) -> None:
        await seal_at_start(engine, lambda: configured_sealer(database, secret_key))

    run(database, work)
    typer.echo("database is at the current schema")

"""What the ``afterorder`` commands share: the ``--database``, ``--secret-key`` and ``--flows``
options, how a command fails (a red line on stderr and an exit code), and ``run``, which opens the
database, migrates it to the current schema and runs one piece of async work in it.

No command lives here and nothing here knows the command tree (``afterorder.cli.main`` builds it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from afterorder.db.database import DatabaseUrlError, open_engine
from afterorder.db.migrate import upgrade
from afterorder.db.stores import StoreRow, get_store
from afterorder.keys.sealing import SealError, sealer_for
from afterorder.keys.signers import StoreSigners
from afterorder.signing import Signer

Database = Annotated[str, typer.Option("--database", envvar="AFTERORDER_DATABASE_URL",
                                       help="sqlite:///PATH or postgresql://user@host/db")]
SecretKey = Annotated[str | None, typer.Option(
    "--secret-key", envvar="AFTERORDER_SECRET_KEY", show_default=False,
    help="Fernet key(s) sealing the stores' secrets (provider credentials, webhook secrets, DKIM keys), "
         "comma-separated, the sealing one first "
         "(default: the key file beside the database)")]
FlowDirs = Annotated[list[Path] | None, typer.Option("--flows", help="a directory of your own flow YAML files")]
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


async def known_store(conn: Any, slug: str) -> StoreRow:
    """The store called ``slug``; the command fails naming it when there is none."""
    store = await get_store(conn, slug)
    if store is None:
        raise fail(f"no store called {slug!r}")
    return store


def store_signer(store: StoreRow, database: str, secret_key: str | None) -> Signer:
    """The signer of ``store``'s links, its key opened with the configured key; the command fails
    saying what to do when it cannot be."""
    try:
        return StoreSigners(lambda: sealer_for(database, secret_key)).of(store)
    except SealError as exc:
        raise fail(str(exc)) from None


def run(database: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the database (migrating it to the current schema) and run ``work(engine)``."""

    async def main() -> T:
        try:
            engine = open_engine(database)
        except DatabaseUrlError as exc:
            raise fail(str(exc)) from None
        try:
            await upgrade(engine)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except OSError as exc:
        raise fail(f"cannot reach the database: {exc}") from None

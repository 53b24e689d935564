"""``afterorder user add`` (dashboard users) and ``afterorder store set-industry`` (benchmarks)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from afterorder.cli.common import Database, fail, run
from afterorder.clock import SystemClock
from afterorder.db.dashboard_users import LANGUAGES, Role, UserError, add_user, set_language
from afterorder.db.database import DEFAULT_URL
from afterorder.db.store_settings import set_industry
from afterorder.db.stores import get_store
from afterorder.domain import INDUSTRIES, IndustryError


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise fail("the two passwords differ")
    return str(first)


def user_add(
    username: str,
    store: Annotated[list[str], typer.Option("--store", help="a store slug; repeat for an agency's stores")],
    role: Annotated[str, typer.Option("--role", help="owner (everything), editor (flows, templates), "
                                                     "viewer (read only)")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    language: Annotated[str | None, typer.Option(
        "--language", help=f"the dashboard's language for the user: {', '.join(LANGUAGES)} "
                           "(default: the browser's; the user can change it on the dashboard)")] = None,
    database: Database = DEFAULT_URL,
) -> None:
    """Create a dashboard user (or set a new password and add stores to an existing one)."""
    if language is not None and language not in LANGUAGES:
        raise fail(f"--language: {language!r} is not one of {', '.join(LANGUAGES)}")
    try:
        chosen = Role(role)
    except ValueError:
        raise fail(f"--role: {role!r} is not one of owner, editor, viewer") from None
    password = _password(password_stdin)

    async def work(engine: Any) -> None:
        async with engine.begin() as conn:
            ids = []
            for slug in store:
                found = await get_store(conn, slug)
                if found is None:
                    raise fail(f"--store: no store {slug!r}")
                ids.append((found.id, chosen))
            try:
                user_id = await add_user(conn, username, password, ids, SystemClock().now())
                if language is not None:
                    await set_language(conn, user_id, language)
            except UserError as exc:
                raise fail(str(exc)) from None

    run(database, work)
    typer.echo(f"user {username}: {chosen.value} of {', '.join(store)}")


def store_set_industry(
    slug: str,
    industry: Annotated[str, typer.Argument(help="; ".join(INDUSTRIES))],
    database: Database = DEFAULT_URL,
) -> None:
    """Set the store's industry: its post-purchase flows are compared with that industry's benchmarks."""

    async def work(engine: Any) -> str:
        async with engine.begin() as conn:
            found = await get_store(conn, slug)
            if found is None:
                raise fail(f"no store {slug!r}")
            try:
                return await set_industry(conn, found.id, industry, SystemClock().now())
            except IndustryError as exc:
                raise fail(str(exc)) from None

    typer.echo(f"{slug}: industry {run(database, work)}")

"""Throw-away databases for one bench run: SQLite files in a temp directory, PostgreSQL databases
named ``afterorder_bench_<hex>_<purpose>`` created on the server and dropped at the end."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

PG_URL = os.environ.get("AFTERORDER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg_admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(PG_URL)
    conn = await asyncpg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                                 password=url.password, database=url.database, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def postgres_problem() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        await _pg_admin("SELECT 1")
    except Exception as exc:  # any failure to reach it means: run SQLite only
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class Databases:
    """Hands out fresh database URLs of one backend and removes them all in ``cleanup``."""

    backend: str  # "sqlite" | "postgresql"
    run_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _tmp: tempfile.TemporaryDirectory[str] | None = None
    _created: list[str] = field(default_factory=list)

    async def fresh(self, purpose: str) -> str:
        if self.backend == "sqlite":
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="afterorder-bench-")
            return f"sqlite:///{Path(self._tmp.name) / f'{purpose}.db'}"
        name = f"afterorder_bench_{self.run_tag}_{purpose}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    async def cleanup(self) -> None:
        for name in self._created:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

"""PostgreSQL: planner statistics for tables that have never had any.

PostgreSQL plans a statement from statistics that ``ANALYZE`` gathers, and autovacuum first analyzes
a table up to a minute after it has changed enough.  Until then the planner guesses: on a young
database it took a store's whole event history for a few rows and answered "which of these event ids
are stored" by reading every event of the store (0.1 ms growing to 85 ms per lookup within 16 seconds
at 200 events/s).  While ``serve`` or ``worker`` runs, tables that have rows but have never been
analyzed are analyzed at once; after that autovacuum keeps them current as usual.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIN_ROWS = 500  # smaller tables are read whole whatever the plan

_NEVER_ANALYZED = text(
    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
    "AND last_analyze IS NULL AND last_autoanalyze IS NULL AND n_live_tup >= :rows"
)


async def analyze_new_tables(engine: AsyncEngine, min_rows: int = MIN_ROWS) -> list[str]:
    """ANALYZE every table of the schema with ``min_rows`` rows or more that was never analyzed; returns them."""
    if engine.dialect.name != "postgresql":
        return []
    async with engine.connect() as conn:
        names = [r.relname for r in await conn.execute(_NEVER_ANALYZED, {"rows": min_rows})]
        await conn.rollback()
    for name in names:
        async with engine.begin() as conn:
            quoted = conn.dialect.identifier_preparer.quote_identifier(name)
            await conn.exec_driver_sql(f"ANALYZE {quoted}")
    return names

"""Which flows exist: the built-in library plus a store's own directory of YAML files.

A run keeps the version it started with: every version a run was started on is stored in
``flow_versions`` and read back from there, so editing a file never changes a sleeping run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.dialect import insert_ignore
from afterorder.db.schema import flow_versions, store_flows
from afterorder.flows.spec import FlowError, FlowSpec, load_flow_file, parse_flow

LIBRARY = Path(__file__).parent / "library"


@dataclass
class FlowCatalog:
    """Current flow definitions by id, and every parsed version by (id, version)."""

    flows: dict[str, FlowSpec] = field(default_factory=dict)
    _versions: dict[tuple[str, str], FlowSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_dirs: list[Path] | None = None) -> FlowCatalog:
        """Load the library, then each extra directory (a file with the same id replaces it)."""
        catalog = cls()
        for directory in [LIBRARY, *(extra_dirs or [])]:
            if not directory.is_dir():
                raise FlowError(str(directory), None, "", "flow directory does not exist")
            for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
                catalog.add(load_flow_file(path))
        return catalog

    def add(self, spec: FlowSpec) -> None:
        self.flows[spec.id] = spec
        self._versions[(spec.id, spec.version)] = spec

    def get(self, flow_id: str) -> FlowSpec:
        try:
            return self.flows[flow_id]
        except KeyError:
            raise KeyError(f"no flow called {flow_id!r}; known: {', '.join(sorted(self.flows))}") from None

    async def version(self, conn: AsyncConnection, store_id: int, flow_id: str, version: str) -> FlowSpec:
        cached = self._versions.get((flow_id, version))
        if cached is not None:
            return cached
        row = (await conn.execute(
            select(flow_versions.c.source).where(
                flow_versions.c.store_id == store_id, flow_versions.c.flow_id == flow_id,
                flow_versions.c.version == version,
            )
        )).first()
        if row is None:
            raise LookupError(f"flow {flow_id} version {version} is not stored")
        spec = parse_flow(row.source, f"<stored {flow_id}@{version}>")
        self._versions[(flow_id, version)] = spec
        return spec

    async def remember(self, conn: AsyncConnection, store_id: int, spec: FlowSpec, now: datetime) -> None:
        await conn.execute(
            insert_ignore(conn, flow_versions).values(
                store_id=store_id, flow_id=spec.id, version=spec.version, source=spec.source, created_at=now
            )
        )

    async def enabled(self, conn: AsyncConnection, store_id: int) -> list[FlowSpec]:
        rows = await conn.execute(
            select(store_flows.c.flow_id, store_flows.c.enabled).where(store_flows.c.store_id == store_id)
        )
        overrides = {r.flow_id: r.enabled for r in rows}
        return [s for s in self.flows.values() if overrides.get(s.id, s.enabled_by_default)]

    async def set_enabled(
        self, conn: AsyncConnection, store_id: int, flow_id: str, enabled: bool, now: datetime
    ) -> None:
        self.get(flow_id)
        updated = await conn.execute(
            store_flows.update()
            .where(store_flows.c.store_id == store_id, store_flows.c.flow_id == flow_id)
            .values(enabled=enabled, updated_at=now)
        )
        if updated.rowcount == 0:
            await conn.execute(
                store_flows.insert().values(store_id=store_id, flow_id=flow_id, enabled=enabled, updated_at=now)
            )

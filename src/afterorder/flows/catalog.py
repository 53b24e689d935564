"""Which flows exist: the built-in library, plus directories of YAML files given to ``serve``:
``DIR/*.yaml`` apply to every store, ``DIR/<store-slug>/*.yaml`` to that store only.  A file whose
``id`` is already known replaces that flow (for everyone, or for that one store).

A run keeps the version it started with: every version a run was started on is stored in
``flow_versions`` and read back from there, so editing a file never changes a sleeping run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import ChannelKind
from afterorder.channels.setup import primaries
from afterorder.db.schema import flow_versions, store_flows
from afterorder.db.statements import insert_ignore
from afterorder.db.stores import StoreRow
from afterorder.flows.channel_rules import StoreChannels, problems
from afterorder.flows.spec import FlowError, FlowSpec, load_flow_file, parse_flow

LIBRARY = Path(__file__).parent / "library"


_ENABLED = select(store_flows.c.flow_id, store_flows.c.enabled).where(
    store_flows.c.store_id == bindparam("store"))  # built once: every batch of events asks


@dataclass
class FlowCatalog:
    """Current flow definitions by id, and every parsed version by (id, version)."""

    flows: dict[str, FlowSpec] = field(default_factory=dict)
    by_store: dict[str, dict[str, FlowSpec]] = field(default_factory=dict)
    _versions: dict[tuple[str, str], FlowSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_dirs: list[Path] | None = None) -> FlowCatalog:
        """Load the library, then each extra directory (a file with the same id replaces it)."""
        catalog = cls()
        for directory in [LIBRARY, *(extra_dirs or [])]:
            if not directory.is_dir():
                raise FlowError(str(directory), None, "", "flow directory does not exist")
            for path in _yaml_files(directory):
                catalog.add(load_flow_file(path))
            if directory == LIBRARY:
                continue
            for store_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
                for path in _yaml_files(store_dir):
                    catalog.add(load_flow_file(path), store=store_dir.name)
        return catalog

    def add(self, spec: FlowSpec, store: str | None = None) -> None:
        if store is None:
            self.flows[spec.id] = spec
        else:
            self.by_store.setdefault(store, {})[spec.id] = spec
        self._versions[(spec.id, spec.version)] = spec

    def flows_for(self, store_slug: str) -> dict[str, FlowSpec]:
        """The flows a store has: everyone's, with its own added or replacing them."""
        return {**self.flows, **self.by_store.get(store_slug, {})}

    def get(self, flow_id: str, store_slug: str | None = None) -> FlowSpec:
        known = self.flows_for(store_slug) if store_slug else self.flows
        try:
            return known[flow_id]
        except KeyError:
            raise KeyError(f"no flow called {flow_id!r}; known: {', '.join(sorted(known))}") from None

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

    async def remember(self, conn: AsyncConnection, store_id: int, specs: Iterable[FlowSpec], now: datetime) -> None:
        """Store the versions runs are being started on, so they can be read back after the file changes."""
        rows = {(s.id, s.version): {"store_id": store_id, "flow_id": s.id, "version": s.version, "source": s.source,
                                    "created_at": now} for s in specs}
        if rows:
            columns = ("store_id", "flow_id", "version", "source", "created_at")
            await conn.execute(insert_ignore(flow_versions, columns), list(rows.values()))

    async def enabled(self, conn: AsyncConnection, store: StoreRow) -> list[FlowSpec]:
        rows = await conn.execute(_ENABLED, {"store": store.id})
        overrides = {r.flow_id: r.enabled for r in rows}
        return [s for s in self.flows_for(store.slug).values() if overrides.get(s.id, s.enabled_by_default)]

    async def set_enabled(
        self, conn: AsyncConnection, store: StoreRow, flow_id: str, enabled: bool, now: datetime
    ) -> None:
        """Switch a flow on or off for a store; ``FlowRefused`` when it cannot be sent there (a send
        step on a channel the store has not set up, an SMS China's providers refuse …)."""
        spec = self.get(flow_id, store.slug)
        if enabled:
            found = problems(spec, await store_channels_of(conn, store))
            if found:
                raise FlowRefused(found)
        store_id = store.id
        updated = await conn.execute(
            store_flows.update()
            .where(store_flows.c.store_id == store_id, store_flows.c.flow_id == flow_id)
            .values(enabled=enabled, updated_at=now)
        )
        if updated.rowcount == 0:
            await conn.execute(
                store_flows.insert().values(store_id=store_id, flow_id=flow_id, enabled=enabled, updated_at=now)
            )


class FlowRefused(ValueError):
    """A flow cannot be switched on for a store; ``problems`` says why, one line per send step."""

    def __init__(self, found: list[str]) -> None:
        super().__init__("; ".join(found))
        self.problems = found


async def store_channels_of(conn: AsyncConnection, store: StoreRow) -> StoreChannels:
    setup = await primaries(conn, store.id)
    return StoreChannels(store.country, frozenset({ChannelKind.EMAIL, *setup}),
                         {c: p for c, (p, _) in setup.items()}, {c: s for c, (_, s) in setup.items()})


async def refused_flows(conn: AsyncConnection, catalog: FlowCatalog, store: StoreRow) -> list[str]:
    """Why flows switched on for this store cannot be sent there (logged when ``serve`` starts)."""
    channels = await store_channels_of(conn, store)
    return [p for spec in await catalog.enabled(conn, store) for p in problems(spec, channels)]


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))

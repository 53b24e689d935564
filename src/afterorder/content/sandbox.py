"""The Jinja sandbox every message template renders in, whatever its channel, and the loader that
finds message files in the template folders or in a store's own versions (overrides).

Staff edit templates in the dashboard: in the sandbox they can use the message's data and filters
but never reach Python; an undefined variable is an error, never a blank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, nodes
from jinja2.environment import Environment
from jinja2.sandbox import SandboxedEnvironment

from afterorder.content.formatting import FILTERS
from afterorder.domain import CustomerSnapshot, LineSnapshot, OrderSnapshot, ShipmentSnapshot, StoreSnapshot


def is_message(name: str) -> bool:
    """A message folder or file (``_layout/`` and the like hold the shared parts)."""
    return not name.startswith("_")


class Loader(FileSystemLoader):
    """A FileSystemLoader that hands each source through ``prepare(name, source)`` once, on load.

    ``overrides`` (``<message>/<file>`` → source) win over every folder."""

    def __init__(self, searchpath: Sequence[Path], prepare: Callable[[str, str], str],
                 overrides: Mapping[str, str] | None = None) -> None:
        super().__init__([str(p) for p in searchpath])
        self._prepare = prepare
        self._overrides = dict(overrides or {})

    def raw_source(self, environment: Environment, name: str) -> str:
        if name in self._overrides:
            return self._overrides[name]
        return super().get_source(environment, name)[0]

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        if template in self._overrides:
            return self._prepare(template, self._overrides[template]), f"<store override {template}>", lambda: True
        source, filename, uptodate = super().get_source(environment, template)
        return self._prepare(template, source), filename, uptodate


_SNAPSHOTS = (StoreSnapshot, CustomerSnapshot, OrderSnapshot, LineSnapshot, ShipmentSnapshot)


class Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with a fast answer for the plain snapshot types we hand to templates:
    their public fields and properties are data.  Everything else gets the full check."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if type(obj) in _SNAPSHOTS and not attr.startswith("_") and not callable(value):
            return True
        return bool(super().is_safe_attribute(obj, attr, value))

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``snapshot.field``: a field or property of plain data is returned as it is (the sandbox's
        general path asks the same questions of it, and then some, on every lookup)."""
        if type(obj) in _SNAPSHOTS and not attribute.startswith("_"):
            try:
                value = getattr(obj, attribute)
            except AttributeError:
                return self.undefined(obj=obj, name=attribute)
            if not callable(value):
                return value
        return super().getattr(obj, attribute)


def environment(loader: Loader, *, autoescape: bool,
                filters: Mapping[str, Callable[..., Any]] | None = None) -> SandboxedEnvironment:
    env = Sandbox(
        loader=loader,
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    env.filters.update(filters or {})
    return env


# Promotions (recommendations, coupons) go in these blocks; the layout shows them only when the
# message may carry them, so they must stand where only the layout decides: at the top level.
PROMO_BLOCKS: Final = frozenset({"promo", "promo_text"})


def promo_blocks_at_top(env: Environment, source: str, name: str) -> None:
    """TemplateError when a promo block of ``source`` stands inside another block, out of the layout's reach."""
    tree = env.parse(source)
    top = {id(node) for node in tree.body}
    for block in tree.find_all(nodes.Block):
        if block.name in PROMO_BLOCKS and id(block) not in top:
            raise TemplateError(f"{name}: {{% block {block.name} %}} must stand at the top level of the file, "
                                "not inside another block, so the layout can leave it out")

"""YAML with line numbers: every mapping key and list item remembers where it was written."""

from __future__ import annotations

from typing import Any

import yaml


class SourceMap:
    """``path -> line`` for a loaded document; paths look like ``steps[2].wait.duration``."""

    def __init__(self) -> None:
        self.lines: dict[str, int] = {}

    def line_of(self, path: str) -> int | None:
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return self.lines.get("")


def load_with_lines(text: str) -> tuple[Any, SourceMap]:
    source = SourceMap()
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None, source
    return _build(node, "", source), source


def _build(node: yaml.Node, path: str, source: SourceMap) -> Any:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            child = f"{path}.{key}" if path else str(key)
            source.lines[child] = key_node.start_mark.line + 1
            result[str(key)] = _build(value_node, child, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, f"{path}[{i}]", source) for i, item in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()

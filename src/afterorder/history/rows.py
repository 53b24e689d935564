"""Reading a CSV file as numbered rows, and the small helpers every format shares."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

from afterorder.history.records import Rejected


def numbered_rows(source: TextIO) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header and the data rows, each numbered as a spreadsheet shows it (the header is row 1).
    A column name the header repeats is read as ``name (2)``, ``name (3)`` ... (EC-CUBE's order export
    has 送料 twice)."""
    reader = csv.DictReader(source)
    header: list[str] = []
    for name in (h.strip() for h in (reader.fieldnames or [])):
        repeated = sum(1 for h in header if h == name or h.startswith(f"{name} ("))
        header.append(f"{name} ({repeated + 1})" if repeated and name else name)
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for number, row in enumerate(reader, 2):
            if any(v and v.strip() for k, v in row.items() if k is not None and isinstance(v, str)):
                yield number, row

    return header, rows()


def kept(row: dict[str, Any]) -> dict[str, Any]:
    """A row's non-empty cells: what is kept as the raw record beside its events."""
    return {k: v for k, v in row.items() if k and v not in (None, "")}


def content_id(kind: str, key: str, content: Any) -> str:
    """An event id for a record without a time of its own (a customer, a product): the same row
    gives the same id (a re-run stores nothing), a changed row a new one (its changes go in)."""
    digest = hashlib.sha1(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    return f"import:{kind}:{key}:{digest}"


Group = list[tuple[int, dict[str, str]]]
R = TypeVar("R")


def grouped(rows: Iterator[tuple[int, dict[str, str]]] | list[tuple[int, dict[str, str]]], column: str,
            missing: str) -> Iterator[Group | Rejected]:
    """Consecutive rows with the same ``column`` value (one order's line items) as one group; a row
    without the value, or an order that comes back after others, is rejected (``Rejected``)."""
    seen: set[str] = set()
    group: Group = []
    for number, row in rows:
        key = (row.get(column) or "").strip()
        if not key:
            yield Rejected(number, missing)
            continue
        if group and key == (group[0][1].get(column) or "").strip():
            group.append((number, row))
            continue
        if group:
            yield group
        group = []
        if key in seen:
            yield Rejected(number, f"order {key}: its rows must be next to each other; it appeared before "
                                   "with other orders in between")
            continue
        seen.add(key)
        group = [(number, row)]
    if group:
        yield group


def grouped_orders(rows: Iterator[tuple[int, dict[str, str]]], column: str, missing: str,
                   build: Callable[[Group], R]) -> Iterator[R | Rejected]:
    """``grouped``, each group built into one order by ``build``; a ``ValueError`` of ``build`` rejects
    the order's first row, naming the order."""
    for group in grouped(rows, column, missing):
        if isinstance(group, Rejected):
            yield group
            continue
        try:
            yield build(group)
        except ValueError as exc:
            yield Rejected(group[0][0], f"order {group[0][1][column].strip()}: {exc}")

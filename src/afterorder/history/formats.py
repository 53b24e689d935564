"""Which reader a file needs: JSON lines or CSV by the file's extension (or ``--format``), and for a
CSV, Shopify's export, EC-CUBE's 受注CSV or afterorder's generic columns by its header.

A CSV is read as UTF-8 (a BOM or not) unless its first ``SNIFF`` bytes are not UTF-8 but are
Shift_JIS (cp932, the superset Windows and EC-CUBE's ``SJIS-win`` write), the encoding Japanese
spreadsheet exports default to.  JSON lines are always UTF-8."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from afterorder.history import eccube_csv, generic_csv, jsonl, shopify_csv
from afterorder.history.records import Context, Record, Rejected
from afterorder.history.rows import numbered_rows

Kind = Literal["customers", "orders", "products"]
KINDS: tuple[Kind, ...] = ("customers", "orders", "products")
FORMATS = ("csv", "jsonl")
SNIFF = 1 << 20  # bytes read to tell UTF-8 from Shift_JIS
Parser = Callable[[Iterable[tuple[int, dict[str, str]]], Context], Iterator[Record | Rejected]]


class FileFormatError(ValueError):
    """The file as a whole cannot be read (unknown extension, unknown columns, not UTF-8 ...)."""


@dataclass
class Source:
    """An open file: ``records`` yields what it holds; ``position()`` is how many bytes were read."""

    path: Path
    kind: Kind
    format: str  # "jsonl" | "shopify-csv" | "eccube-csv" | "csv"
    size: int
    records: Iterator[Record | Rejected]
    binary: BinaryIO
    text: io.TextIOWrapper  # held here: when it goes, it closes the file
    context: Context

    @property
    def file_format(self) -> str:
        """csv or jsonl: what ``open_source`` takes to open it again."""
        return "jsonl" if self.format == "jsonl" else "csv"

    def position(self) -> int:
        return self.size if self.binary.closed else self.binary.tell()

    def close(self) -> None:
        self.text.close()


def file_format(path: Path, given: str | None) -> str:
    if given:
        if given not in FORMATS:
            raise FileFormatError(f"unknown format {given!r}: use csv or jsonl")
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise FileFormatError(f"cannot tell the format of {path.name} from its extension: name it .csv or .jsonl, "
                          "or pass --format csv|jsonl")


EXPORTS: dict[Kind, list[tuple[str, set[str], Parser]]] = {
    "orders": [("shopify-csv", shopify_csv.ORDER_HEADER, shopify_csv.orders),
               ("eccube-csv", eccube_csv.ORDER_HEADER, eccube_csv.orders)],
    "customers": [("shopify-csv", shopify_csv.CUSTOMER_HEADER, shopify_csv.customers)],
}
GENERIC: dict[Kind, Parser] = {
    "orders": generic_csv.orders, "customers": generic_csv.customers, "products": generic_csv.products,
}


def text_encoding(start: bytes) -> str:
    """utf-8-sig when ``start`` (a file's first bytes, maybe cut mid-character) is UTF-8; cp932 when it is not
    but is Shift_JIS; else utf-8-sig again (a UTF-8 file with bad bytes is refused as before, naming UTF-8)."""
    for encoding, name in (("utf-8", "utf-8-sig"), ("cp932", "cp932")):
        try:
            codecs.getincrementaldecoder(encoding)().decode(start, final=False)
        except UnicodeDecodeError:
            continue
        return name
    return "utf-8-sig"


def open_source(path: Path, kind: Kind, ctx: Context, given_format: str | None = None) -> Source:
    """Open ``path`` and pick its reader; raises ``FileFormatError`` naming what is wrong."""
    fmt = file_format(path, given_format)
    try:
        binary = open(path, "rb")  # closed by Source.close
    except OSError as exc:
        raise FileFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    size = path.stat().st_size
    encoding = "utf-8-sig" if fmt == "jsonl" else text_encoding(binary.read(SNIFF))
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    try:
        if fmt == "jsonl":
            return Source(path, kind, "jsonl", size, jsonl.events(text, ctx), binary, text, ctx)
        header, rows = numbered_rows(text)
        if not header:
            raise FileFormatError(f"{path.name} is empty: a CSV file starts with a header row")
        for name, columns, parser in EXPORTS.get(kind, []):
            if columns <= set(header):
                return Source(path, kind, name, size, parser(rows, ctx), binary, text, ctx)
        problem = generic_csv.header_problem(kind, header)
        if problem:
            raise FileFormatError(f"{path.name} is neither a Shopify or EC-CUBE {kind} export nor afterorder's "
                                  f"{kind} CSV: {problem}")
        return Source(path, kind, "csv", size, GENERIC[kind](rows, ctx), binary, text, ctx)
    except UnicodeDecodeError as exc:
        binary.close()
        raise FileFormatError(f"{path.name} is not {'UTF-8' if encoding == 'utf-8-sig' else 'Shift_JIS'} text: "
                              f"{exc}") from None
    except Exception:
        binary.close()
        raise

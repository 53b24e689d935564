"""An import's file as batches of prepared events (db/history_rows.py): a few thousand events each,
with the rejected rows met on the way and how far into the file the batch reaches.

The same batching runs in the import's own process (``inline_batches``, yielding to the event loop
as it goes) or in a parsing process of its own (history/parse_process.py, ``batches``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field

from afterorder.db.history_rows import Prepared, prepare
from afterorder.history.formats import FileFormatError
from afterorder.history.records import Record, Rejected

BATCH_EVENTS = 5000
YIELD_EVERY = 100  # records parsed between turns of the event loop


@dataclass(slots=True)
class PreparedBatch:
    events: list[Prepared] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # each good record: its row, how many events
    rejected: list[Rejected] = field(default_factory=list)
    position: int = 0  # bytes of the file read when the batch was complete

    def add(self, item: Record | Rejected, currency: str) -> None:
        if isinstance(item, Rejected):
            self.rejected.append(item)
            return
        self.events.extend(prepare(event, raw, currency) for event, raw in zip(item.events, item.raw, strict=True))
        self.sizes.append((item.row, len(item.events)))

    def records(self) -> Iterator[list[Prepared]]:
        """Each good record's events, in order."""
        start = 0
        for _, count in self.sizes:
            yield self.events[start:start + count]
            start += count


def _batches(records: Iterator[Record | Rejected], currency: str, position: Callable[[], int], size: int,
             ticks: bool) -> Iterator[PreparedBatch | None]:
    """The batches; with ``ticks``, also ``None`` every ``YIELD_EVERY`` records (a turn for the event loop)."""
    batch = PreparedBatch()
    try:
        for n, item in enumerate(records, 1):
            if ticks and n % YIELD_EVERY == 0:
                yield None
            batch.add(item, currency)
            if len(batch.events) >= size:
                batch.position = position()
                yield batch
                batch = PreparedBatch()
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"the file is not UTF-8 text: {exc}") from None
    if batch.sizes or batch.rejected:
        batch.position = position()
        yield batch


def batches(records: Iterator[Record | Rejected], currency: str, position: Callable[[], int],
            size: int = BATCH_EVENTS) -> Iterator[PreparedBatch]:
    """``records`` in batches of about ``size`` events; raises ``FileFormatError`` when the file
    turns out unreadable part way (the batches before it are good)."""
    return (batch for batch in _batches(records, currency, position, size, False) if batch is not None)


async def inline_batches(records: Iterator[Record | Rejected], currency: str, position: Callable[[], int],
                         size: int = BATCH_EVENTS) -> AsyncGenerator[PreparedBatch, None]:
    """``batches`` in this process, in small steps on the event loop: the database driver gets each
    next statement of the batch being written as soon as it is ready."""
    for batch in _batches(records, currency, position, size, True):
        if batch is None:
            await asyncio.sleep(0)
        else:
            yield batch

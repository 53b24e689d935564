"""An import's parsing in a process of its own (``python -m afterorder.history.parse_process``).

Reading a file's records and preparing their events (db/history_rows.py) is about half of an
import's work, and Python runs one thread at a time: in a process of its own it runs on a second
core while the import's process writes the batch before.  The batches come over a pipe as frames
(afterorder/processes/frames.py) of plain values, not models.

The parent writes one frame, the ``Job``; the process answers with ``("batch", PreparedBatch)``
frames, then ``("end", None)``, or ``("error", message)`` when the file turns out unreadable part way.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path

from afterorder.history.batches import PreparedBatch, batches
from afterorder.history.formats import FileFormatError, Kind, open_source
from afterorder.history.records import Context
from afterorder.processes.frames import answers_channel, frame, read_frame, receive

MODULE = "afterorder.history.parse_process"


@dataclass(frozen=True)
class Job:
    path: str
    kind: Kind
    format: str  # csv | jsonl
    context: Context
    currency: str  # the store's
    size: int  # events per batch


class ParseProcessGone(RuntimeError):
    """The parsing process stopped before the end of the file."""


async def process_batches(job: Job) -> AsyncGenerator[PreparedBatch, None]:
    """The file's batches, parsed and prepared in a process of its own; it stops with the iteration."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", MODULE, stdin=asyncio.subprocess.PIPE,
                                                   stdout=asyncio.subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(frame(job))
        await process.stdin.drain()
        process.stdin.close()
        while True:
            try:
                kind, value = await receive(process.stdout)
            except asyncio.IncompleteReadError:
                status = await process.wait()
                raise ParseProcessGone(f"the parsing process stopped part way (exit status {status}); "
                                       "the batches before it are imported, running the same file again is safe"
                                       ) from None
            if kind == "batch":
                yield value
            elif kind == "error":
                raise FileFormatError(value)
            else:
                return
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the import stops this process itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = answers_channel()
    job: Job = read_frame(sys.stdin.buffer)
    try:
        source = open_source(Path(job.path), job.kind, job.context, job.format)
        try:
            for batch in batches(source.records, job.currency, source.position, job.size):
                answers.write(frame(("batch", batch)))
                answers.flush()
        finally:
            source.close()
    except FileFormatError as exc:
        answers.write(frame(("error", str(exc))))
    else:
        answers.write(frame(("end", None)))
    answers.flush()


if __name__ == "__main__":
    main()

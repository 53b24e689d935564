"""How afterorder's helper processes and their parent talk over a pipe: frames of an 8-byte
big-endian length, then that many bytes of pickle.  Used by the rendering helpers
(flows/compose_helper.py) and an import's parsing process (history/parse_process.py)."""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
from typing import Any, BinaryIO

FRAME_LENGTH = 8  # bytes of the big-endian length before each pickled frame


def frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(FRAME_LENGTH, "big") + data


def read_frame(stream: BinaryIO) -> Any:
    """The next frame's value; ``EOFError`` at the end of the input (or a frame cut short)."""
    head = stream.read(FRAME_LENGTH)
    if len(head) < FRAME_LENGTH:
        raise EOFError
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


async def receive(stream: asyncio.StreamReader) -> Any:
    """The next frame from a helper; ``asyncio.IncompleteReadError`` when its output ended."""
    size = int.from_bytes(await stream.readexactly(FRAME_LENGTH), "big")
    return pickle.loads(await stream.readexactly(size))


def answers_channel() -> BinaryIO:
    """In a helper: the stream its frames go to (the real stdout).  Anything else written to
    stdout, by Python or a C library, goes to stderr from now on: never into a frame."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers

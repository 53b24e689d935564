"""A helper process that composes messages for ``flows.composers.ProcessComposer``.

It reads frames from stdin (an 8-byte big-endian length, then a pickle of the renderers' recipes and
the jobs) and answers each on stdout with the pickled results, in order.  It keeps nothing but
compiled templates, and ends at the end of its input.  Only its parent writes to it.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path
from typing import BinaryIO

from afterorder.content.render import Recipe, Renderer
from afterorder.flows.composers import FRAME_LENGTH, ComposeFailure, compose_one
from afterorder.flows.outgoing import Composed, ComposeJob

MAX_RENDERERS = 64  # renderers kept compiled: one per store with its own templates, and the shared one

_renderers: dict[Recipe, Renderer] = {}


def renderer(recipe: Recipe) -> Renderer:
    found = _renderers.get(recipe)
    if found is None:
        if len(_renderers) >= MAX_RENDERERS:
            _renderers.clear()
        folders, overrides = recipe
        found = _renderers[recipe] = Renderer([Path(d) for d in folders], overrides=dict(overrides))
    return found


def compose_batch(recipes: list[Recipe], jobs: list[tuple[int, ComposeJob]]) -> list[Composed | ComposeFailure]:
    """Compose ``jobs``, each with the renderer built from ``recipes[index]``."""
    renderers = [renderer(recipe) for recipe in recipes]
    return [compose_one(renderers[index], job) for index, job in jobs]


def _read(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    while (head := _read(requests, FRAME_LENGTH)) is not None:
        frame = _read(requests, int.from_bytes(head, "big"))
        if frame is None:
            return
        recipes, jobs = pickle.loads(frame)
        answer = pickle.dumps(compose_batch(recipes, jobs), protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(len(answer).to_bytes(FRAME_LENGTH, "big") + answer)
        answers.flush()


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when helpers stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to stdout, by Python or a C library, goes to stderr: never into a frame
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()

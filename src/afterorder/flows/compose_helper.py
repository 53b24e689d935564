"""A helper process that composes messages for ``flows.composers.ProcessComposer``.

It reads frames (afterorder/processes/frames.py) from stdin (a pickle of the renderers' recipes and
the jobs) and answers each on stdout with the pickled results, in order.  It keeps nothing but
compiled templates, and ends at the end of its input.  Only its parent writes to it, and only its
parent stops it: SIGINT and SIGTERM sent to the whole process group are ignored.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import BinaryIO

from afterorder.content.render import Recipe, Renderer
from afterorder.flows.composers import ComposeFailure, compose_one
from afterorder.flows.outgoing import Composed, ComposeJob
from afterorder.processes.frames import answers_channel, frame, read_frame

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


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    while True:
        try:
            recipes, jobs = read_frame(requests)
        except EOFError:
            return
        answers.write(frame(compose_batch(recipes, jobs)))
        answers.flush()


def main() -> None:
    # Ctrl-C in a terminal and systemd's stop (SIGTERM to every process of the unit) reach the helper
    # too: the parent decides when it stops, by closing its input once nothing is left to compose (a
    # parent killed outright closes it as well), so no batch in flight is cut off.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    answers = answers_channel()
    try:
        serve(sys.stdin.buffer, answers)
    except BrokenPipeError:  # the parent was killed while we composed for it: nobody to answer
        sys.stderr.close()  # nor to tell: Python would report the unflushable pipe at exit
        os._exit(0)


if __name__ == "__main__":
    main()

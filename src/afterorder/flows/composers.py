"""Where messages are composed (rendered, their links made trackable, built into bytes): in this
process, or in helper processes.

Composing is pure CPU work, about half of what the scheduler does per message.  In one process it
competes with the HTTP API, the database and SMTP for one core (Python runs one thread at a time);
``ProcessComposer`` hands it to helper processes, so ``serve`` uses a second core.  The helpers keep no
state but compiled templates: each batch carries the renderers' recipes (template folders and a
store's own templates) and the jobs, and comes back as subjects and message bytes.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from afterorder.content.render import Recipe, Renderer
from afterorder.flows.outgoing import Composed, ComposeJob, compose
from afterorder.processes.frames import frame, receive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComposeFailure:
    """A message that could not be composed (a broken template): its run is marked failed."""

    error: str  # the exception and its traceback

    @property
    def reason(self) -> str:
        """The exception as its traceback's last line says it, e.g. ``OverflowError: date value out of range``."""
        lines = [line for line in self.error.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "unknown error"
        name, colon, message = last.partition(":")
        if colon and " " not in name:  # jinja2.exceptions.UndefinedError: ... → UndefinedError: ...
            return f"{name.rsplit('.', 1)[-1]}:{message}"
        return last


Work = Sequence[tuple[Renderer, ComposeJob]]


class Composer(Protocol):
    async def start(self) -> None:
        """Be ready before the first batch (a helper started and its imports done)."""

    async def compose(self, work: Work) -> list[Composed | ComposeFailure]:
        """One result per job, in order."""

    async def close(self) -> None: ...


def compose_one(renderer: Renderer, job: ComposeJob) -> Composed | ComposeFailure:
    try:
        return compose(renderer, job)
    except Exception:  # a template error belongs to its run: reported, the batch goes on
        return ComposeFailure(traceback.format_exc())


class InlineComposer:
    """Composes in this process, yielding to the event loop between messages."""

    async def start(self) -> None:
        return None

    async def compose(self, work: Work) -> list[Composed | ComposeFailure]:
        found: list[Composed | ComposeFailure] = []
        for renderer, job in work:
            await asyncio.sleep(0)  # rendering is CPU work: let the other tasks of the process have a turn
            found.append(compose_one(renderer, job))
        return found

    async def close(self) -> None:
        return None


# ---- in the parent --------------------------------------------------------------------------

HELPER_MODULE = "afterorder.flows.compose_helper"


class HelperGone(RuntimeError):
    """The helper process stopped or its pipe broke."""


class _Helper:
    """One helper process, spoken to over its stdin and stdout in frames (afterorder/processes/frames.py)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lock = asyncio.Lock()  # one batch at a time
        self.broken = False

    @classmethod
    async def start(cls) -> _Helper:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", HELPER_MODULE,
                                                       stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return cls(process)

    async def call(self, recipes: list[Recipe], jobs: list[tuple[int, ComposeJob]]) -> list[Composed | ComposeFailure]:
        assert self.process.stdin is not None and self.process.stdout is not None
        async with self.lock:
            if self.broken:
                raise HelperGone("the helper process stopped")
            try:
                self.process.stdin.write(frame((recipes, jobs)))
                await self.process.stdin.drain()
                found: list[Composed | ComposeFailure] = await receive(self.process.stdout)
                return found
            except (OSError, asyncio.IncompleteReadError) as exc:
                self.broken = True
                raise HelperGone(f"the helper process stopped ({exc})") from exc
            except BaseException:  # cancelled mid-frame (or a job that cannot be pickled): start afresh
                self.broken = True
                raise

    async def stop(self) -> None:
        if self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()  # the helper ends at the end of its input
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class ProcessComposer:
    """Composes in ``processes`` helper processes (``python -m afterorder.flows.compose_helper``).

    A batch is split evenly between the helpers.  If a helper stops (killed, out of memory) or a
    job cannot be handed over, the batch is composed here instead and a new helper starts for the
    next one: messages are late, never lost."""

    def __init__(self, processes: int = 1, *, min_share: int = 8) -> None:
        if processes < 1:
            raise ValueError("ProcessComposer needs at least one process")
        self.processes = processes
        self.min_share = min_share  # jobs per helper at least, so small batches go to one helper
        self._helpers: list[_Helper] = []
        self._starting = asyncio.Lock()  # two scheduler loops must not both start the missing helper
        self._inline = InlineComposer()

    async def _ready_helpers(self) -> list[_Helper]:
        async with self._starting:
            for helper in [h for h in self._helpers if h.broken]:
                self._helpers.remove(helper)
                await helper.stop()
            while len(self._helpers) < self.processes:
                helper = await _Helper.start()
                self._helpers.append(helper)
                await helper.call([], [])  # answers once its imports are done
            return list(self._helpers)

    async def start(self) -> None:
        """Start the helpers; ``HelperGone`` when one cannot start (then nothing could render there)."""
        await self._ready_helpers()

    async def compose(self, work: Work) -> list[Composed | ComposeFailure]:
        if not work:
            return []
        index_of: dict[int, int] = {}
        recipes: list[Recipe] = []
        jobs: list[tuple[int, ComposeJob]] = []
        try:
            for renderer, job in work:
                index = index_of.get(id(renderer))
                if index is None:
                    index = index_of[id(renderer)] = len(recipes)
                    recipes.append(renderer.recipe)  # ValueError: a renderer a helper cannot rebuild
                jobs.append((index, job))
            helpers = await self._ready_helpers()
            shares = max(1, min(len(helpers), len(jobs) // self.min_share))
            size = -(-len(jobs) // shares)
            parts = await asyncio.gather(*(helper.call(recipes, jobs[i * size:(i + 1) * size])
                                           for i, helper in enumerate(helpers[:shares])))
        except (HelperGone, OSError, pickle.PicklingError, TypeError, AttributeError, ValueError):
            log.exception("composing in a helper process failed; composing %d messages here instead", len(jobs))
            return await self._inline.compose(work)
        return [result for part in parts for result in part]

    async def close(self) -> None:
        helpers, self._helpers = self._helpers, []
        for helper in helpers:
            await helper.stop()


def composer_for(processes: int) -> Composer:
    """``processes`` helper processes, or (0) composing in this process."""
    return ProcessComposer(processes) if processes > 0 else InlineComposer()

"""An async set-up (a runtime, an app on loopback, ...) run in a thread with its own event loop, for
synchronous tests: schemathesis and hypothesis call it over HTTP from the test's thread, while the
runtime's engine and the app share one loop as they do under ``afterorder serve``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def in_thread(make: Callable[[], AbstractAsyncContextManager[T]], start_timeout: float = 120) -> Iterator[T]:
    """Enter ``make()`` in a thread's event loop; give what it yields; exit it when the block ends."""
    given: list[T] = []
    ready = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with make() as value:
            given.append(value)
            ready.set()
            await stop.wait()

    def main() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=main, name="threaded-serve", daemon=True)
    thread.start()
    ready.wait(start_timeout)
    if failure or not given:
        raise AssertionError(f"the set-up did not start: {failure!r}")
    try:
        yield given[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        if failure:
            raise failure[0]

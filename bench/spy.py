"""py-spy attached to a running process (and its children) until stopped, as collapsed stacks.

``start`` returns the py-spy process; ``stop`` ends the recording (SIGINT makes py-spy write its
file).  The file is one line per distinct stack, ``frame;frame;... count``, for grep and flame graphs.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path


async def start(pid: int, out: Path, rate: int = 100) -> asyncio.subprocess.Process:
    spy = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--subprocesses",
        "--format", "raw", "--rate", str(rate), "--output", str(out), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    await asyncio.sleep(1.0)
    return spy


async def stop(spy: asyncio.subprocess.Process) -> None:
    if spy.returncode is None:
        spy.send_signal(signal.SIGINT)
        await spy.wait()

"""Starting ``bench/provider_sink.py`` as a child process and reading what it accepted.

:class:`ProviderProcess` runs one local provider server (LINE or SES) on a free loopback port,
answers its record (``GET /_bench/accepted``) and the CPU seconds it has used so far (from
``/proc``, so the report can show whether the sink or the sender was the busier).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from provider_sink import ACCEPTED_PATH
from sink import free_port, stop_process, wait_listening

RUNNER = Path(__file__).resolve().parent / "provider_sink.py"


@dataclass(frozen=True)
class SinkRecord:
    requests: int
    keys: list[str]  # one per accepted message, in the order accepted


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used (None where /proc cannot tell)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ProviderProcess:
    def __init__(self, provider: str, port: int, process: asyncio.subprocess.Process) -> None:
        self.provider = provider
        self.port = port
        self.process = process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, provider: str, latency: float) -> ProviderProcess:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(RUNNER), provider, "--port", str(port), "--latency", str(latency),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
        started = cls(provider, port, process)
        try:
            await wait_listening(port, timeout=20)
        except TimeoutError:
            await started.stop()
            raise
        return started

    async def record(self) -> SinkRecord:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = (await client.get(self.url + ACCEPTED_PATH)).json()
        return SinkRecord(int(answer["requests"]), [str(k) for k in answer["keys"]])

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.process.pid)

    async def stop(self) -> None:
        await stop_process(self.process, timeout=5)

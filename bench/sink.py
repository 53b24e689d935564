"""Postfix's SMTP test tools: ``smtp-sink`` (a fast C SMTP server that accepts and discards mail)
and ``smtp-source`` (a fast C SMTP client), used as the delivery baseline."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SINK = "smtp-sink"
SOURCE = "smtp-source"
_SBIN = ("/usr/sbin", "/usr/local/sbin")
_COUNTER = re.compile(rb"mesg=(\d+)")


def tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in _SBIN:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def tools_problem() -> str | None:
    missing = [name for name in (SINK, SOURCE) if tool(name) is None]
    if missing:
        return f"{' and '.join(missing)} not found (Debian package postfix; `make bench` installs it)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def stop_process(process: asyncio.subprocess.Process, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds (only the child we started)."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


class SmtpSink:
    """A running ``smtp-sink -c``; its running counter (``mesg=N``) goes to a temp file."""

    def __init__(self, port: int, process: asyncio.subprocess.Process, log: Path) -> None:
        self.port = port
        self.process = process
        self.log = log

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, backlog: int = 256) -> SmtpSink:
        binary = tool(SINK)
        if binary is None:
            raise FileNotFoundError(SINK)
        port = free_port()
        fd, name = tempfile.mkstemp(prefix="smtp-sink-", suffix=".log")
        args = [binary, "-c"]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        args += [f"127.0.0.1:{port}", str(backlog)]
        with os.fdopen(fd, "wb") as out:
            process = await asyncio.create_subprocess_exec(*args, stdout=out, stderr=subprocess.STDOUT,
                                                           stdin=subprocess.DEVNULL)
        sink = cls(port, process, Path(name))
        try:
            await wait_listening(port)
        except TimeoutError:
            await sink.stop()
            raise
        return sink

    def messages(self) -> int:
        """Messages the sink has accepted so far (its last ``mesg=N`` counter)."""
        try:
            data = self.log.read_bytes()
        except OSError:
            return 0
        tail = data[-4096:]
        found = _COUNTER.findall(tail)
        return int(found[-1]) if found else 0

    async def stop(self) -> None:
        await stop_process(self.process, timeout=5)
        _remove(self.log)


@dataclass(frozen=True)
class SourceResult:
    command: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


async def smtp_source(sink: SmtpSink, *, sessions: int = 8, messages: int = 5000, length: int = 2000,
                      reuse_connections: bool = False) -> SourceResult:
    """Time ``smtp-source`` sending ``messages`` into the sink; checks the sink's counter moved as much."""
    binary = tool(SOURCE)
    if binary is None:
        raise FileNotFoundError(SOURCE)
    args = [binary, *(["-d"] if reuse_connections else []), "-s", str(sessions), "-m", str(messages),
            "-l", str(length), f"127.0.0.1:{sink.port}"]
    before = sink.messages()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _out, err = await process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"smtp-source failed ({process.returncode}): {err.decode(errors='replace')[:300]}")
    await asyncio.sleep(0.2)
    accepted = sink.messages() - before
    shown = " ".join(["smtp-source", *args[1:-1], "127.0.0.1:PORT"])
    return SourceResult(shown, accepted if accepted > 0 else messages, seconds)

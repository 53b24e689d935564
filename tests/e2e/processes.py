"""Starting the real ``afterorder`` command as a separate process, as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

AFTERORDER = [sys.executable, "-m", "afterorder"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, database: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AFTERORDER_DATABASE_URL": database}
    result = subprocess.run([*AFTERORDER, *args], capture_output=True, text=True, env=env, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"afterorder {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def add_store_cli(database: str, slug: str = "kumo", **options: str) -> dict[str, Any]:
    args = ["store", "add", slug, "--name", options.pop("name", "雲茶舗"),
            "--email-from", options.pop("email_from", f"shop@{slug}.example")]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", value]
    created: dict[str, Any] = json.loads(cli(*args, database=database).stdout)
    return created


@asynccontextmanager
async def serve(database: str, smtp_url: str, *extra: str, log: Path | None = None) -> AsyncIterator[str]:
    port = free_port()
    out = open(log, "w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [*AFTERORDER, "serve", "--database", database, "--smtp", smtp_url, "--listen", f"127.0.0.1:{port}",
         "--poll", "0.2", *extra], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if process.poll() is not None:
                    raise AssertionError(f"serve exited with {process.returncode}")
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("serve did not start within 15 s")
        yield url
    finally:
        await stop(process)


async def stop(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, then wait without blocking the event loop (the test's SMTP server lives in it)."""
    process.send_signal(signal.SIGTERM)
    for _ in range(int(timeout * 20)):
        if process.poll() is not None:
            return
        await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("the process did not stop within 15 s of SIGTERM")


def start_worker(database: str, smtp_url: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*AFTERORDER, "worker", "--database", database, "--smtp", smtp_url, "--poll", "0.2",
                             *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def until_healthy(process: subprocess.Popen[Any], url: str, timeout: float = 30) -> None:
    """Wait until the ``serve`` process answers ``/healthz`` (failing if it exits or takes too long)."""
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout * 20)):
            assert process.poll() is None, f"serve exited with {process.returncode}"
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"serve did not start within {timeout:g} s")

"""A private PostgreSQL cluster for fault tests: started with ``initdb`` / ``pg_ctl`` in a temporary
directory on a free port, restarted or stopped by the test, removed afterwards.  The machine's
shared server is never touched.  PostgreSQL refuses to run as root, so as root the cluster belongs
to the ``postgres`` account (``runuser``); otherwise to the user running the tests.  Under
``CI=true`` a machine without the server binaries fails the test instead of skipping it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.processes import free_port


def server_binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH), newest version first."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(f.split("/")[-2]), reverse=True)
    return next((Path(f) for f in folders if Path(f, "pg_ctl").exists()), None)


@dataclass
class PrivateCluster:
    bin: Path
    data: Path
    port: int
    owner: str | None  # the account it runs as, when the tests run as root

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(args[:2])} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c max_connections=200", "start")

    def restart(self) -> None:
        """Stop at once (every connection cut, as a crash or a failover does) and start again."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.start()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A running private cluster, stopped and removed afterwards (its folder is under /tmp, where
    the ``postgres`` account can reach it: pytest's own folders are the tester's alone)."""
    binaries = server_binaries()
    if binaries is None:
        reason = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    owner = None
    base = Path(tempfile.mkdtemp(prefix="afterorder-pg-"))
    base.chmod(0o755)
    data = base / "pgdata"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        owner = "postgres"
        account = pwd.getpwnam(owner)
        os.chown(data, account.pw_uid, account.pw_gid)
    cluster = PrivateCluster(binaries, data, free_port(), owner)
    try:
        cluster._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", timeout=120)
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        except AssertionError:
            pass  # never started, or already stopped
        shutil.rmtree(base, ignore_errors=True)

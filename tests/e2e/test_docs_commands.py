"""Every shell command README.md and docs/*.md show runs, as a reader would run it, and succeeds.

Each ```sh, ```bash and ```console block (in a console block, the lines after ``$ ``) runs with bash
(``set -euo pipefail``) against the real ``afterorder`` command and a real SQLite database: each
document in a fresh directory of its own, its blocks in order, so a document's later commands see
what its earlier ones made, as they would for a reader following it.  A block must exit 0.

- A block whose command runs until stopped (``afterorder serve``, ``make demo``) is started in the
  background and must come up and answer ``GET /healthz``; it then serves the document's later
  blocks (one server per document, stopped at its end or when the document starts another).
- The only rewrite: the port.  Documents say ``127.0.0.1:8000``; the test gives each document a free
  port, through ``listen`` in a configuration file named by ``AFTERORDER_CONFIG`` (which every
  command reads) and by replacing ``:8000`` in the commands' text.
- ``make`` commands run in the repository (where the Makefile is), with the database in the
  document's directory (``AFTERORDER_DATABASE_URL``).
- The commands that cannot run inside the test suite are listed in ``NOT_RUN``, each with its reason;
  a block holding one holds nothing else, and every entry must still appear in the documents.

Every fenced block must name its language, and only the shell languages may hold commands, so a
command cannot hide in an untagged block.  ``toml`` blocks must be valid ``afterorder.toml`` files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from afterorder.config import load_settings
from tests.e2e.processes import free_port
from tests.system_packages import require

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "console"}
OTHER = {"json", "yaml", "toml", "graphql", "text", "http", "csv", "jinja", "html"}

# Shown in the documents, never run here; the reason for each.
NOT_RUN = {
    "make test": "runs this very suite (and, as root, installs Debian packages with apt-get)",
    "make bench": "about an hour with both cores busy, and installs Postfix's tools with apt-get",
    "python bench/channels.py --providers ses,line --runs 3": "a benchmark: minutes with both cores busy",
}
# The programs the documents' commands use besides afterorder (scripts/test-deps.sh installs them).
TOOLS = {"bash": "bash", "make": "make", "curl": "curl", "jq": "jq", "sqlite3": "sqlite3"}
# Commands that run until stopped: started in the background, they must come up and answer.
LONG_RUNNING = ("afterorder serve", "afterorder demo", "make demo")
BLOCK_TIMEOUT = 180.0
START_TIMEOUT = 120.0


@dataclass
class Block:
    document: Path
    line: int  # where the block opens, 1-based
    language: str
    text: str  # the script as written

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"

    @property
    def commands(self) -> list[str]:
        """The block's logical lines (continuations joined), comments and blank lines left out."""
        lines = self.text.splitlines()
        if self.language == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        joined: list[str] = []
        pending = ""
        for line in lines:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            joined.append(pending + line)
            pending = ""
        return [" ".join(c.split()) for c in joined if c.strip() and not c.strip().startswith("#")]

    @property
    def script(self) -> str:
        if self.language == "console":
            return "\n".join(self.commands)
        return self.text


FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


def fenced_blocks(document: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = document.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, language = opening.group(1), opening.group(2)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        assert j < len(lines), f"{document.name}:{i + 1}: a fence that is never closed"
        blocks.append(Block(document, i + 1, language, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for document in DOCUMENTS for b in fenced_blocks(document)]


def shell_blocks(document: Path) -> list[Block]:
    return [b for b in fenced_blocks(document) if b.language in SHELL]


@dataclass
class Outcome:
    document: Path
    problems: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)


class Reader:
    """One document's blocks, run in order in a directory of its own."""

    def __init__(self, document: Path, folder: Path) -> None:
        self.document = document
        self.folder = folder / "work"
        self.folder.mkdir(parents=True)
        self.port = free_port()
        config = folder / "afterorder.toml"
        config.write_text(f'listen = "127.0.0.1:{self.port}"\n', encoding="utf-8")
        bin_dir = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERORDER_")}
        self.env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", AFTERORDER_CONFIG=str(config),
                        NO_COLOR="1", TERM="dumb", COLUMNS="200")
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log = folder / "server.log"

    def _text(self, script: str) -> str:
        return script.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}").replace(
            "localhost:8000", f"localhost:{self.port}")

    def run(self) -> Outcome:
        outcome = Outcome(self.document)
        try:
            for block in shell_blocks(self.document):
                commands = block.commands
                if commands and all(c in NOT_RUN for c in commands):
                    continue
                problem = self._long_running(block) if commands[0].startswith(LONG_RUNNING) else self._script(block)
                outcome.ran.append(str(block))
                if problem:
                    outcome.problems.append(f"{block}: {problem}")
                    break  # later blocks build on this one
        finally:
            self._stop()
        return outcome

    def _script(self, block: Block) -> str | None:
        try:
            done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + self._text(block.script)],
                                  cwd=self.folder, env=self.env, capture_output=True, text=True,
                                  timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"did not finish within {BLOCK_TIMEOUT:.0f} s"
        if done.returncode != 0:
            return (f"exited with {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n"
                    f"--- stderr\n{done.stderr[-3000:]}")
        return None

    def _long_running(self, block: Block) -> str | None:
        if len(block.commands) != 1:
            return "a command that runs until stopped must be alone in its block"
        self._stop()
        command = self._text(block.commands[0])
        cwd, env = self.folder, dict(self.env)
        if command.startswith("make "):
            cwd = ROOT
            env["AFTERORDER_DATABASE_URL"] = f"sqlite:///{self.folder}/afterorder-data/demo.db"
        log = open(self.server_log, "ab")
        self.server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                if self.server.poll() is not None:
                    return f"exited with {self.server.returncode}:\n{self.server_log.read_text()[-3000:]}"
                try:
                    answer = client.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                    if answer.status_code == 200 and answer.json().get("status") == "ok":
                        return None
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        return f"did not answer GET /healthz within {START_TIMEOUT:.0f} s:\n{self.server_log.read_text()[-3000:]}"

    def _stop(self) -> None:
        if self.server is None:
            return
        try:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
        except ProcessLookupError:
            pass
        self.server = None


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every document read at once, three at a time (each has its own directory, database and port)."""
    for tool, package in TOOLS.items():
        require(shutil.which(tool) is not None, f"{tool} (Debian package {package})", f"sudo apt-get install {package}")
    readers = [Reader(d, tmp_path_factory.mktemp(d.stem)) for d in DOCUMENTS]
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield {o.document.name: o for o in pool.map(Reader.run, readers)}


@pytest.mark.parametrize("document", [d.name for d in DOCUMENTS])
def test_every_command_of_the_document_succeeds(document: str, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[document]
    assert outcome.problems == [], "\n\n".join(outcome.problems)


def test_commands_are_shown_only_in_shell_blocks_and_every_block_names_its_language() -> None:
    problems = []
    for block in all_blocks():
        if block.language not in SHELL | OTHER:
            problems.append(f"{block}: a fence without a known language ({block.language or 'none'})")
        elif block.language not in SHELL:
            for line in block.text.splitlines():
                if re.match(r"\s*(\$ |afterorder |make |\.venv/bin/|python3? |curl |sqlite3 )", line):
                    problems.append(f"{block}: a command in a {block.language} block: {line.strip()}")
    assert problems == [], "\n".join(problems)


def test_the_commands_not_run_are_few_and_all_still_shown() -> None:
    shown = {c for d in DOCUMENTS for b in shell_blocks(d) for c in b.commands}
    assert sorted(set(NOT_RUN) - shown) == [], "NOT_RUN names commands the documents no longer show"
    for block in (b for d in DOCUMENTS for b in shell_blocks(d)):
        held = [c for c in block.commands if c in NOT_RUN]
        assert not held or len(held) == len(block.commands), f"{block}: a command not run shares its block"
    assert all(reason.strip() for reason in NOT_RUN.values())


def test_no_block_is_skipped(outcomes: dict[str, Outcome]) -> None:
    """What ran of a document that passed is every shell block of it but those of NOT_RUN."""
    for document in DOCUMENTS:
        blocks = [b for b in shell_blocks(document) if not all(c in NOT_RUN for c in b.commands)]
        outcome = outcomes[document.name]
        if not outcome.problems:
            assert outcome.ran == [str(b) for b in blocks]


def test_the_configuration_examples_are_valid(tmp_path: Path) -> None:
    for block in (b for b in all_blocks() if b.language == "toml"):
        path = tmp_path / "afterorder.toml"
        path.write_text(block.text, encoding="utf-8")
        load_settings(path)  # raises ConfigError naming the key and the problem

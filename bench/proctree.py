"""Resident memory and CPU of a process and all its descendants, read from Linux ``/proc``.

``usage(pid)`` walks the tree through every thread's ``children`` file (a helper started from a
thread other than the main one is that thread's child, not the main thread's), and sums ``VmRSS``
from ``status`` and user + system CPU from ``stat`` (with the CPU of children already reaped, so a
helper that exits does not take its CPU with it).  A process that ends while it is read is left out.
Returns None where ``/proc`` does not describe the root process (not Linux, or it has exited).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class TreeUsage:
    own_rss_kb: int  # the root process alone
    rss_kb: int  # the root and every descendant
    own_cpu: float  # seconds, user + system, of the root alone
    cpu: float  # seconds, the root and its descendants, reaped children included
    processes: int  # how many processes were summed


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # a zombie has no VmRSS line


def _cpu(pid: int, *, reaped: bool) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children waited for
    return ticks / _TICK


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return found


def usage(pid: int) -> TreeUsage | None:
    try:
        own_rss, own_cpu = _rss_kb(pid), _cpu(pid, reaped=False)
        total_cpu = _cpu(pid, reaped=True)
    except (OSError, IndexError, ValueError):
        return None
    rss, processes = own_rss, 1
    pending = _children(pid)
    while pending:
        current = pending.pop()
        try:
            rss += _rss_kb(current)
            total_cpu += _cpu(current, reaped=True)
        except (OSError, IndexError, ValueError):
            continue
        processes += 1
        pending.extend(_children(current))
    return TreeUsage(own_rss_kb=own_rss, rss_kb=rss, own_cpu=own_cpu, cpu=total_cpu, processes=processes)


def rss_mb(pid: int, *, children: bool = True) -> float:
    """Resident memory of a process and (unless told not to) its descendants, in MB (0 if gone)."""
    found = usage(pid)
    if found is None:
        return 0.0
    return round((found.rss_kb if children else found.own_rss_kb) / 1024, 1)

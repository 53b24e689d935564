"""How a long latency run drifts: the measured run cut into ten slices, each with its latency
percentiles, serve's CPU per event and the resident memory of serve and its helpers, and the memory's
growth from 20 % of the run to its end.

At full size (600 s) a slice is one minute and 20 % of the run is minute 2, the marks issue 18 words
its memory bar with ("from minute 2 to minute 10"); a shorter run keeps the same shares of its length.

``Sampler`` reads ``proctree.usage`` of serve on the event loop's clock, every ``interval`` seconds
from the first measured event's due time, so every slice's edge is a sample.  Slices are by the
time an event was due: an event's latency lands in the slice it was sent in.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from percentiles import Percentile, percentile
from proctree import TreeUsage

SLICES = 10
GROWTH_FROM = 0.2  # memory growth is measured from this share of the run to its end
SAMPLE_EVERY = 5.0  # seconds between samples, at most (a slice holds a whole number of them)


@dataclass(frozen=True)
class Sample:
    offset: float  # seconds after the first measured event was due
    usage: TreeUsage


@dataclass(frozen=True)
class SliceFigures:
    start_s: float  # seconds into the measured run
    end_s: float
    events: int
    received: int
    p50: Percentile | None
    p99: Percentile | None
    serve_cpu_ms_per_event: float | None
    helpers_cpu_ms_per_event: float | None
    rss_mb: float | None  # serve and its helpers, at the slice's end

    def as_json(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 1), "end_s": round(self.end_s, 1), "events": self.events,
                "received": self.received, "p50": self.p50.as_json() if self.p50 else None,
                "p99": self.p99.as_json() if self.p99 else None,
                "serve_cpu_ms_per_event": self.serve_cpu_ms_per_event,
                "helpers_cpu_ms_per_event": self.helpers_cpu_ms_per_event, "rss_mb": self.rss_mb}


@dataclass(frozen=True)
class MemoryGrowth:
    from_s: float  # seconds into the measured run (20 % of it)
    to_s: float  # the end of the measured run
    from_mb: float  # serve and its helpers, resident
    to_mb: float
    serve_from_mb: float  # serve alone
    serve_to_mb: float
    processes: int  # serve and its helpers at the end
    peak_mb: float  # the largest sample over the whole measured run

    @property
    def growth(self) -> float:
        return (self.to_mb - self.from_mb) / self.from_mb if self.from_mb else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"from_s": round(self.from_s, 1), "to_s": round(self.to_s, 1), "from_mb": self.from_mb,
                "to_mb": self.to_mb, "growth_percent": round(100 * self.growth, 1),
                "serve_from_mb": self.serve_from_mb, "serve_to_mb": self.serve_to_mb,
                "processes": self.processes, "peak_mb": self.peak_mb}


def interval(seconds: float) -> float:
    """Seconds between samples: a whole number of them per slice, none longer than SAMPLE_EVERY."""
    slice_seconds = seconds / SLICES
    return slice_seconds / max(1, math.ceil(slice_seconds / SAMPLE_EVERY))


class Sampler:
    """Samples ``read()`` at ``start + j * every`` (loop time) for j = 0 … ``count``."""

    def __init__(self, read: Callable[[], TreeUsage | None], start: float, every: float, count: int) -> None:
        self.read, self.start, self.every, self.count = read, start, every, count
        self.samples: list[Sample] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for j in range(self.count + 1):
            delay = self.start + j * self.every - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            found = self.read()
            if found is not None:
                self.samples.append(Sample(j * self.every, found))


def _nearest(samples: list[Sample], offset: float) -> Sample | None:
    if not samples:
        return None
    return min(samples, key=lambda s: abs(s.offset - offset))


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def slices(delays: list[float | None], seconds: float, window: float, samples: list[Sample]) -> list[SliceFigures]:
    """``delays``: each measured event's POST → mail seconds in send order (None: no mail)."""
    out: list[SliceFigures] = []
    n = len(delays)
    every = interval(seconds)
    for k in range(SLICES):
        first, last = round(k * n / SLICES), round((k + 1) * n / SLICES)
        part = delays[first:last]
        arrived = sorted(d for d in part if d is not None)
        start_s, end_s = k * seconds / SLICES, (k + 1) * seconds / SLICES
        a, b = _nearest(samples, start_s), _nearest(samples, end_s)
        serve_cpu = helpers_cpu = rss = None
        if a is not None and b is not None and b.offset > a.offset and part and \
                abs(a.offset - start_s) <= every and abs(b.offset - end_s) <= every:
            own = b.usage.own_cpu - a.usage.own_cpu
            serve_cpu = round(1000 * own / len(part), 2)
            helpers_cpu = round(1000 * (b.usage.cpu - a.usage.cpu - own) / len(part), 2)
            rss = _mb(b.usage.rss_kb)
        out.append(SliceFigures(start_s=start_s, end_s=end_s, events=len(part), received=len(arrived),
                                p50=percentile(arrived, len(part), 0.50, window),
                                p99=percentile(arrived, len(part), 0.99, window),
                                serve_cpu_ms_per_event=serve_cpu, helpers_cpu_ms_per_event=helpers_cpu,
                                rss_mb=rss))
    return out


def memory_growth(samples: list[Sample], seconds: float) -> MemoryGrowth | None:
    """Resident memory at 20 % of the run against its end; None without samples near both."""
    mark = GROWTH_FROM * seconds
    a, b = _nearest(samples, mark), _nearest(samples, seconds)
    every = interval(seconds)
    if a is None or b is None or b.offset <= a.offset or abs(a.offset - mark) > every \
            or abs(b.offset - seconds) > every:
        return None
    return MemoryGrowth(from_s=a.offset, to_s=b.offset, from_mb=_mb(a.usage.rss_kb), to_mb=_mb(b.usage.rss_kb),
                        serve_from_mb=_mb(a.usage.own_rss_kb), serve_to_mb=_mb(b.usage.own_rss_kb),
                        processes=b.usage.processes, peak_mb=_mb(max(s.usage.rss_kb for s in samples)))

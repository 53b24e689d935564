"""``make bench``: afterorder's figures next to a baseline, on SQLite and on PostgreSQL.

1. event → SMTP-accepted latency at a fixed offered rate, through a real ``afterorder serve``
   (issue 18's item 4: 200 single-event requests/s for 10 minutes over 8 keep-alive clients;
   p50/p99, serve's CPU per event, and the resident memory of serve and its helpers from minute 2
   to minute 10, each slice of the run printed so drift shows; ``--seconds 60`` for a quick run);
2. delivery throughput into Postfix's ``smtp-sink``, against ``smtp-source`` into the same sink;
   the scheduler's and intake's rates come from the same run;
3. a burst of orders through the batch API, from outside, end to end, against ``smtp-source``'s
   ceiling into the same sink, and the batch API's ingest rate (``bench/burst.py``);
4. a million sleeping runs: memory, a new order's confirmation, and runs/s when they all come due
   together (``bench/sleeping.py``);
5. the channel layer: LINE, SES and SMTP messages per second delivering pre-rendered messages
   (``bench/channels.py``, in its own process on uvloop as ``afterorder serve`` runs).

Prints the tables and writes the same figures to bench/results/latest.json.  Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from burst import run_burst
from databases import Databases, postgres_problem
from latency import run_latency
from machine import load, reference_loop_seconds
from previous import comparison
from previous import load as load_previous
from report import BACKENDS, BackendFigures, BenchReport, render_table, write_json
from sink import SmtpSink, smtp_source, tools_problem
from sleeping import run_sleeping
from throughput import run_throughput

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
CHANNELS = Path(__file__).resolve().parent / "channels.py"


def say(message: str) -> None:
    print(message, flush=True)


def _workers(asked: int | None, backend: str) -> int:
    if asked is not None:
        return asked
    return 0  # one serve process: on 2 cores an extra worker process measured slower (p99 1.0–1.1 s vs 0.47–0.86 s)


def _spy_file(directory: Path | None, backend: str) -> Path | None:
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"latency-{backend}.txt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,postgresql")
    parser.add_argument("--rate", type=float, default=200.0, help="offered events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=600.0,
                        help="measured seconds of the latency run (issue 18: 10 minutes; memory growth is "
                             "taken from 20 %% of it to its end, minute 2 to 10 at 600 s)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent first and not measured")
    parser.add_argument("--drain", type=float, default=10.0,
                        help="seconds to wait for mail after the last POST "
                             "(later mail counts as slower than this)")
    parser.add_argument("--connections", type=int, default=8,
                        help="keep-alive clients of the latency run, one POST in flight each "
                             "(a due event waits for a free one, and that counts in its latency)")
    parser.add_argument("--messages", type=int, default=5000, help="outbox rows delivery drains")
    parser.add_argument("--rendered", type=int, default=300,
                        help="of those, how many go through intake and the scheduler (the rest are copies)")
    parser.add_argument("--smtp-pool", type=int, default=8,
                        help="SmtpChannel connections for the delivery run")
    parser.add_argument("--baseline-messages", type=int, default=5000, help="messages smtp-source sends")
    parser.add_argument("--workers", type=int, default=None,
                        help="serve --workers N for the latency run (0: API, scheduler and delivery in one process); "
                             "default: 0 on SQLite (one writer), 1 on PostgreSQL")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-channels", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--skip-sleeping", action="store_true")
    parser.add_argument("--burst-orders", type=int, default=20000, help="orders of the end-to-end burst")
    parser.add_argument("--sleeping-runs", type=int, default=1_000_000, help="runs waiting in the sleeping run")
    parser.add_argument("--sleeping-window", type=float, default=60.0,
                        help="seconds the woken runs are counted for (runs/s over that window)")
    parser.add_argument("--many-workers", type=int, default=2,
                        help="serve --workers N on PostgreSQL for the burst and sleeping runs (SQLite: 0)")
    parser.add_argument("--channel-messages", type=int, default=5000, help="messages per run of bench/channels.py")
    parser.add_argument("--channel-runs", type=int, default=3, help="runs of each provider in bench/channels.py")
    parser.add_argument("--channel-concurrency", type=int, default=None,
                        help="sends in flight in bench/channels.py (default: its own)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write profiles to this directory: cProfile stats of the in-process phases, and "
                             "py-spy of serve and its helpers during the latency run (latency-BACKEND.txt, "
                             "collapsed stacks; the latency figures then include py-spy's cost)")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures as JSON")
    return parser.parse_args(argv)


async def bench_backend(backend: str, args: argparse.Namespace, sink: SmtpSink | None) -> BackendFigures:
    figures = BackendFigures()
    databases = Databases(backend)
    try:
        if not args.skip_latency:
            say(f"{backend}: event → SMTP latency")
            try:
                url = await databases.fresh("latency")
                figures.latency = await run_latency(url, rate=args.rate, seconds=args.seconds,
                                                    warmup=args.warmup, drain=args.drain,
                                                    connections=args.connections, label=backend,
                                                    workers=_workers(args.workers, backend),
                                                    profile=_spy_file(args.profile, backend), say=say)
            except Exception as exc:  # a failed part is reported, the others still run
                traceback.print_exc()
                figures.problems.append(f"latency run failed: {type(exc).__name__}: {exc}")
        if not args.skip_throughput:
            say(f"{backend}: delivery throughput into smtp-sink")
            if sink is None:
                figures.problems.append("delivery throughput skipped: no smtp-sink")
            else:
                try:
                    url = await databases.fresh("throughput")
                    figures.throughput = await run_throughput(
                        url, sink, messages=args.messages, rendered=args.rendered, smtp_pool=args.smtp_pool,
                        label=backend, profile_dir=args.profile, say=say)
                except Exception as exc:
                    traceback.print_exc()
                    figures.problems.append(f"throughput run failed: {type(exc).__name__}: {exc}")
        many = args.many_workers if backend == "postgresql" else 0
        if not args.skip_burst:
            say(f"{backend}: a burst of {args.burst_orders:,} orders, HTTP in → smtp-sink out ({many} workers)")
            try:
                url = await databases.fresh("burst")
                figures.burst = await run_burst(url, backend=backend, orders=args.burst_orders, workers=many,
                                                ceiling_messages=args.burst_orders, say=say)
            except Exception as exc:
                traceback.print_exc()
                figures.problems.append(f"burst run failed: {type(exc).__name__}: {exc}")
        if not args.skip_sleeping:
            say(f"{backend}: {args.sleeping_runs:,} sleeping runs ({many} workers)")
            try:
                url = await databases.fresh("sleeping")
                figures.sleeping = await run_sleeping(url, backend=backend, runs=args.sleeping_runs, workers=many,
                                                      window=args.sleeping_window, say=say)
            except Exception as exc:
                traceback.print_exc()
                figures.problems.append(f"sleeping run failed: {type(exc).__name__}: {exc}")
    finally:
        await databases.cleanup()
    return figures


async def main(args: argparse.Namespace) -> BenchReport:
    started = time.perf_counter()
    report = BenchReport(header={
        "cores": os.cpu_count(), "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "load_before": load(), "rate": args.rate,
        "reference_loop_seconds": reference_loop_seconds(),
        "latency_seconds": args.seconds, "latency_connections": args.connections,
        "serve_workers": {b: _workers(args.workers, b) for b in BACKENDS},
        "warmup_seconds": args.warmup, "drain_seconds": args.drain,
        "messages": args.messages, "rendered": args.rendered,
    })
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends:
        problem = await postgres_problem()
        if problem:
            say(f"PostgreSQL is not reachable ({problem}); running SQLite only")
            backends.remove("postgresql")
            report.backends["postgresql"] = BackendFigures(problems=[f"not reachable: {problem}"])

    sink: SmtpSink | None = None
    if not args.skip_throughput:
        report.baseline_problem = tools_problem()
        if report.baseline_problem:
            say(report.baseline_problem)
        else:
            sink = await SmtpSink.start()
            say(f"baseline: smtp-source → smtp-sink ({args.baseline_messages} messages)")
            report.baseline = await smtp_source(sink, messages=args.baseline_messages)
            report.baseline_reuse = await smtp_source(sink, messages=args.baseline_messages,
                                                      reuse_connections=True)
            say(f"  {report.baseline.command}: {report.baseline.per_second:.0f} msg/s; "
                f"with -d: {report.baseline_reuse.per_second:.0f} msg/s")
    try:
        for backend in backends:
            report.backends[backend] = await bench_backend(backend, args, sink)
    finally:
        if sink is not None:
            await sink.stop()
    report.header["load_after"] = load()
    report.elapsed_seconds = time.perf_counter() - started
    return report


def run_channels(args: argparse.Namespace) -> dict[str, Any]:
    """``bench/channels.py`` in its own process (it prints its progress and table); its figures."""
    figures = args.json.with_name("channels.json")
    command = [sys.executable, str(CHANNELS), "--backends", args.backends, "--json", str(figures),
               "--messages", str(args.channel_messages), "--runs", str(args.channel_runs),
               "--smtp-pool", str(args.smtp_pool), "--baseline-messages", str(args.baseline_messages)]
    if args.channel_concurrency is not None:
        command += ["--concurrency", str(args.channel_concurrency)]
    say("")
    code = subprocess.run(command, check=False).returncode
    try:
        found: dict[str, Any] = json.loads(figures.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"problem": f"bench/channels.py exited with {code}; no figures: {type(exc).__name__}: {exc}"}
    return found if code == 0 else {**found, "problem": f"bench/channels.py exited with {code}"}


if __name__ == "__main__":
    arguments = parse_args()
    result = asyncio.run(main(arguments))
    say("")
    say(render_table(result))
    say("\n".join(comparison(result.as_json(), load_previous(), BACKENDS)))
    write_json(result, arguments.json)
    if not arguments.skip_channels:
        merged = {**json.loads(arguments.json.read_text(encoding="utf-8")), "channels": run_channels(arguments)}
        arguments.json.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"figures written to {arguments.json}")

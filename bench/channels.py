"""The channel layer's throughput: LINE, SES and SMTP messages per second, delivering rows already
rendered in the outbox (issue 17: ≥ 1,000 messages/s per provider against servers answering in 5 ms).

    python bench/channels.py                     # SQLite, and PostgreSQL when it answers
    python bench/channels.py --backends sqlite --providers line --runs 1

On each database, one store has LINE (provider ``line``) and email (provider ``ses``) set up with
``channels.setup.set_provider``, their ``api_base`` pointing at the local servers of
``afterorder.dev.sinks`` run in their own processes (``bench/provider_sink.py``: answering every
request after ``--latency`` seconds, 5 ms by default), rate 100,000/s (so the rate does not
limit); a second store has no email provider, so its mail goes through the server's relay into
Postfix's ``smtp-sink``.  Each run queues ``--messages`` rendered messages for one provider
(``bench/channel_payloads.py``: a LINE Flex message; an order confirmation's MIME bytes) and
times ``Delivery.run_due`` — through the ``ChannelRegistry`` built from the stored setup, with
``--concurrency`` sends in flight — until none is due; then checks that every message is ``sent``
and that the sink took each exactly once (LINE: by retry key; SES: by Message-ID; smtp-sink only
counts).  Providers take turns, ``--runs`` times each; min / median / max are reported.

This is the delivery of pre-rendered messages (claim, compliance check, send, record), not the
end-to-end path from an event: those figures are ``bench/run.py``'s.  The CPU columns are the
sender's (this process) and the local server's per message.  Never asserts; prints a table and
writes bench/results/channels.json (``make bench`` adds the same figures to latest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import platform
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from channel_payloads import Queued, queue
from cryptography.fernet import Fernet
from databases import Databases, postgres_problem
from machine import load, reference_loop_seconds
from provider_process import ProviderProcess, SinkRecord
from provider_sink import LINE_TOKEN, SES_KEY_ID, SES_REGION, SES_SECRET
from sink import SmtpSink, SourceResult, smtp_source, tools_problem
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.channels import RetryPolicy, SmtpChannel
from afterorder.channels.base import ChannelKind
from afterorder.channels.setup import MAX_RATE, set_provider
from afterorder.clock import SystemClock
from afterorder.db.key_lists import in_keys
from afterorder.db.schema import outbox
from afterorder.db.stores import create_store
from afterorder.delivery import Delivery, DeliverySettings
from afterorder.domain import StoreSnapshot
from afterorder.runtime import Runtime, RuntimeSettings

T = TypeVar("T")
RESULTS = Path(__file__).resolve().parent / "results" / "channels.json"
BACKENDS = ("sqlite", "postgresql")
PROVIDERS = ("line", "ses", "smtp")
TARGET = 1_000.0  # messages per second per provider (issue 17)
NAMES = {"line": "LINE", "ses": "SES", "smtp": "SMTP"}
CHANNEL_OF = {"line": ChannelKind.LINE, "ses": ChannelKind.EMAIL, "smtp": ChannelKind.EMAIL}
# Two stores: LINE and SES set up on the first; the second sets up no email provider (the relay).
PROVIDER_STORE = StoreSnapshot("bench-channels", "京都茶舗", "shop@kyoto-tea.bench.example",
                               "shop@kyoto-tea.bench.example", "JP", "ja", "Asia/Tokyo", "JPY")
RELAY_STORE = StoreSnapshot("bench-relay", "Bench Outfitters", "shop@outfitters.bench.example",
                            "shop@outfitters.bench.example", "US", "en", "UTC", "USD")


def say(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class ProviderRun:
    """One timed drain of ``queued`` messages through one provider."""

    provider: str
    queued: int
    sent: int  # outbox rows ``sent`` afterwards
    seconds: float
    sink_accepted: int  # messages the local server took meanwhile
    exactly_once: int  # queued messages it took exactly once (smtp-sink only counts: None there)
    duplicates: int  # messages it took more than once
    sink_requests: int  # requests that reached it (a 409 or an error counts here, not above)
    cpu_seconds: float  # this process (the sender: claim, send, record)
    sink_cpu_seconds: float | None  # the local server's process
    mean_bytes: int
    commits: int  # transactions delivery committed meanwhile (claims, and outcomes recorded in groups)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3), "per_second": round(self.per_second, 1),
                "cpu_seconds": round(self.cpu_seconds, 3),
                "sink_cpu_seconds": None if self.sink_cpu_seconds is None else round(self.sink_cpu_seconds, 3)}


@dataclass
class ChannelsReport:
    header: dict[str, Any]
    baseline: SourceResult | None = None
    runs: dict[str, list[ProviderRun]] = field(default_factory=dict)  # backend → runs, in the order made
    problems: list[str] = field(default_factory=list)

    def of(self, backend: str, provider: str) -> list[ProviderRun]:
        return [r for r in self.runs.get(backend, []) if r.provider == provider]

    def as_json(self) -> dict[str, Any]:
        source = self.baseline
        return {**self.header, "problems": self.problems,
                "smtp_source": {"command": source.command, "messages": source.messages,
                                "per_second": round(source.per_second, 1)} if source else None,
                "backends": {backend: {provider: {**spread(self.of(backend, provider)),
                                                  "runs": [r.as_json() for r in self.of(backend, provider)]}
                                       for provider in PROVIDERS if self.of(backend, provider)}
                             for backend in self.runs}}


def spread(runs: list[ProviderRun]) -> dict[str, float]:
    rates = [r.per_second for r in runs]
    return {"min": round(min(rates), 1), "median": round(statistics.median(rates), 1),
            "max": round(max(rates), 1)} if rates else {}


# ---- one database --------------------------------------------------------------------------


@dataclass
class Commits:
    """Transactions committed on an engine (a listener on it: nothing in afterorder changes)."""

    count: int = 0

    @classmethod
    def counting(cls, engine: AsyncEngine) -> Commits:
        commits = cls()
        event.listen(engine.sync_engine, "commit", commits.seen)
        return commits

    def seen(self, _conn: Any) -> None:
        self.count += 1

    def take(self) -> int:
        """Commits since the last ``take``."""
        count, self.count = self.count, 0
        return count


@dataclass
class Bench:
    """Everything one database's runs share: the runtime, its delivery, the stores, the sinks."""

    runtime: Runtime
    delivery: Delivery
    stores: dict[str, int]  # provider → the store whose messages go through it
    servers: dict[str, ProviderProcess]
    smtp: SmtpSink | None
    backend: str
    profile_dir: Path | None = None  # cProfile stats of each drain are written here
    commits: Commits = field(default_factory=Commits)


async def _set_up(runtime: Runtime, servers: dict[str, ProviderProcess]) -> dict[str, int]:
    now = datetime.now(UTC)
    async with runtime.engine.begin() as conn:
        ids = {}
        for snapshot in (PROVIDER_STORE, RELAY_STORE):
            row, _key = await create_store(conn, now, slug=snapshot.slug, name=snapshot.name,
                                           email_from=snapshot.email_from, country=snapshot.country,
                                           locale=snapshot.locale, timezone=snapshot.timezone,
                                           currency=snapshot.currency)
            ids[snapshot.slug] = row.id
        store = ids[PROVIDER_STORE.slug]
        await set_provider(conn, runtime.sealer, store, "line", {
            "channel_access_token": LINE_TOKEN, "channel_secret": "bench-channel-secret",
            "api_base": servers["line"].url}, now, rate=MAX_RATE)
        await set_provider(conn, runtime.sealer, store, "ses", {
            "region": SES_REGION, "access_key_id": SES_KEY_ID, "secret_access_key": SES_SECRET,
            "api_base": servers["ses"].url}, now, rate=MAX_RATE)
    return {"line": store, "ses": store, "smtp": ids[RELAY_STORE.slug]}


async def _sent(bench: Bench, ids: list[int]) -> int:
    async with bench.runtime.engine.connect() as conn:
        found = await conn.execute(select(func.count()).select_from(outbox).where(
            in_keys(outbox.c.id, "ids"), outbox.c.status == "sent"), {"ids": ids})
        return int(found.scalar() or 0)


@contextmanager
def profiled(directory: Path | None, label: str) -> Iterator[None]:
    """cProfile what runs inside, into ``directory/label.prof`` (nothing when no directory is given)."""
    if directory is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        directory.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(directory / f"{label}.prof")


async def _drain(delivery: Delivery) -> None:
    while await delivery.run_due():
        pass


def _took(before: SinkRecord, after: SinkRecord, queued: Queued) -> tuple[int, int, int, int]:
    """(accepted, exactly once, duplicates, requests) of what the sink took between two records."""
    counts = Counter(after.keys[len(before.keys):])
    once = sum(1 for key in queued.keys if counts.get(key) == 1)
    duplicates = sum(n - 1 for key, n in counts.items() if n > 1)
    return sum(counts.values()), once, duplicates, after.requests - before.requests


async def run_provider(bench: Bench, provider: str, tag: str, messages: int) -> ProviderRun:
    snapshot = RELAY_STORE if provider == "smtp" else PROVIDER_STORE
    queued = await queue(bench.runtime.engine, snapshot, bench.stores[provider], CHANNEL_OF[provider], tag,
                         messages, datetime.now(UTC))
    server = bench.servers.get(provider)
    before = await server.record() if server else None
    counted = bench.smtp.messages() if bench.smtp else 0
    bench.commits.take()
    sink_cpu, cpu, started = server.cpu_seconds() if server else None, time.process_time(), time.perf_counter()
    with profiled(bench.profile_dir, f"{tag}-{bench.backend}"):
        await _drain(bench.delivery)
    seconds, cpu, commits = time.perf_counter() - started, time.process_time() - cpu, bench.commits.take()
    sink_cpu_after = server.cpu_seconds() if server else None
    sink_cpu = sink_cpu_after - sink_cpu if sink_cpu is not None and sink_cpu_after is not None else None
    sent = await _sent(bench, queued.ids)
    if server and before:
        accepted, once, duplicates, requests = _took(before, await server.record(), queued)
    else:
        await asyncio.sleep(0.2)  # smtp-sink writes its counter a moment later
        accepted = (bench.smtp.messages() - counted) if bench.smtp else 0
        once, duplicates, requests = -1, 0, accepted
    return ProviderRun(provider, len(queued.ids), sent, seconds, accepted, once, duplicates, requests, cpu,
                       sink_cpu, queued.mean_bytes, commits)


def describe(run: ProviderRun, label: str) -> str:
    check = f"sink took {run.sink_accepted}" + (f", {run.exactly_once} exactly once" if run.exactly_once >= 0 else
                                                " (smtp-sink only counts)")
    if run.duplicates:
        check += f", {run.duplicates} DUPLICATES"
    cpu = (f"sender CPU {run.cpu_seconds * 1000 / max(run.sent, 1):.2f} ms/msg, "
           f"{run.sent / max(run.commits, 1):.1f} messages a commit")
    if run.sink_cpu_seconds is not None:
        cpu += f", sink CPU {run.sink_cpu_seconds * 1000 / max(run.sink_requests, 1):.2f} ms/request"
    return (f"  {label}: {run.provider}: sent {run.sent} of {run.queued} in {run.seconds:.2f} s "
            f"({run.per_second:.0f}/s); {check}; {cpu}")


@dataclass(frozen=True)
class Plan:
    messages: int
    runs: int
    concurrency: int
    latency: float
    smtp_pool: int
    providers: tuple[str, ...]
    profile_dir: Path | None = None


async def bench_backend(backend: str, plan: Plan, smtp: SmtpSink | None) -> list[ProviderRun]:
    databases = Databases(backend)
    servers: dict[str, ProviderProcess] = {}
    runtime: Runtime | None = None
    try:
        for name in ("line", "ses"):
            servers[name] = await ProviderProcess.start(name, plan.latency)
        url = await databases.fresh("channels")
        relay = SmtpChannel(host="127.0.0.1", port=smtp.port, pool=plan.smtp_pool) if smtp else None
        runtime = Runtime(RuntimeSettings(database_url=url, smtp_url=smtp.url if smtp else None,
                                          smtp_pool=plan.smtp_pool, worker_id="bench-channels",
                                          secret_key=Fernet.generate_key().decode()), SystemClock(), channel=relay)
        await runtime.migrate()
        stores = await _set_up(runtime, servers)
        delivery = Delivery(runtime.engine, runtime.registry, runtime.clock, RetryPolicy(base_seconds=1.0),
                            DeliverySettings(worker_id="bench-channels", concurrency=plan.concurrency))
        bench = Bench(runtime, delivery, stores, servers, smtp, backend, plan.profile_dir,
                      Commits.counting(runtime.engine))
        return await _turns(bench, backend, plan)
    finally:
        if runtime is not None:
            await runtime.close()
        for server in servers.values():
            await server.stop()
        await databases.cleanup()


async def _turns(bench: Bench, backend: str, plan: Plan) -> list[ProviderRun]:
    done: list[ProviderRun] = []
    for turn in range(plan.runs):
        for provider in plan.providers:
            if provider == "smtp" and bench.smtp is None:
                continue
            run = await run_provider(bench, provider, f"{provider}{turn}", plan.messages)
            say(describe(run, f"{backend} run {turn + 1}/{plan.runs}"))
            done.append(run)
    return done


async def bench_channels(backends: list[str], plan: Plan, smtp: SmtpSink | None,
                         baseline: SourceResult | None, header: dict[str, Any]) -> ChannelsReport:
    """Every provider's runs on every backend, with ``smtp-sink`` (None: SMTP is left out) and
    ``smtp-source``'s figure into it (``baseline``) for the ratio."""
    report = ChannelsReport({**header, "messages": plan.messages, "runs": plan.runs,
                             "concurrency": plan.concurrency, "latency_seconds": plan.latency,
                             "smtp_pool": plan.smtp_pool, "rate": MAX_RATE}, baseline)
    for backend in backends:
        say(f"{backend}: the channel layer: {plan.messages} pre-rendered messages per run, "
            f"{plan.concurrency} in flight, local servers answering in {plan.latency * 1000:g} ms")
        try:
            report.runs[backend] = await bench_backend(backend, plan, smtp)
        except Exception as exc:  # a failed backend is reported, the others still run
            traceback.print_exc()
            report.problems.append(f"{backend}: channel runs failed: {type(exc).__name__}: {exc}")
    return report


# ---- the table -------------------------------------------------------------------------------


def _cell(runs: list[ProviderRun]) -> str:
    figures = spread(runs)
    if not figures:
        return "–"
    return f"{figures['min']:.0f} / {figures['median']:.0f} / {figures['max']:.0f}"


def _cpu(runs: list[ProviderRun]) -> str:
    """The sender's CPU per message (median), and the local server's per request."""
    if not runs:
        return "–"
    sender = statistics.median(r.cpu_seconds * 1000 / max(r.sent, 1) for r in runs)
    sinks = [r.sink_cpu_seconds * 1000 / max(r.sink_requests, 1) for r in runs if r.sink_cpu_seconds is not None]
    return f"{sender:.2f} ms" + (f" ({statistics.median(sinks):.2f} ms)" if sinks else "")


def _checked(runs: list[ProviderRun]) -> str:
    if not runs:
        return "–"
    sent, queued = sum(r.sent for r in runs), sum(r.queued for r in runs)
    if any(r.exactly_once < 0 for r in runs):
        return f"{sent}/{queued} sent, {sum(r.sink_accepted for r in runs)} counted"
    once, dupes = sum(r.exactly_once for r in runs), sum(r.duplicates for r in runs)
    return f"{sent}/{queued} sent, {once} once" + (f", {dupes} twice+" if dupes else "")


def _baseline(report: ChannelsReport) -> str:
    source = report.baseline
    if source is None:
        return "smtp-source: not run"
    medians = [spread(report.of(b, "smtp")).get("median") for b in BACKENDS]
    ratios = [f"{m / source.per_second:.2f}" if m else "–" for m in medians]
    return f"smtp-source: {source.per_second:.0f} msg/s (ratio {' / '.join(ratios)})"


def render(report: ChannelsReport) -> str:
    h, width, cell = report.header, 34, 32
    lines = [f"channel layer: delivering messages already rendered in the outbox (claim, check, send, record) — "
             f"not the end-to-end path; {h['messages']} messages a run, {h['runs']} run(s) each, "
             f"{h['concurrency']} in flight, local servers answering in {h['latency_seconds'] * 1000:g} ms "
             f"in their own process ({h['cores']} cores, reference loop {h.get('reference_loop_seconds', 0):.2f} s, "
             f"load avg {h.get('load_before', 0):.2f} → {h.get('load_after', 0):.2f})"]

    def row(label: str, cells: list[str], extra: str = "") -> None:
        lines.append(f"{label:<{width}}" + "".join(f"{c:<{cell}}" for c in cells) + extra)

    row("", list(BACKENDS), "baseline / target")
    for provider in PROVIDERS:
        runs = {b: report.of(b, provider) for b in BACKENDS}
        if not any(runs.values()):
            continue
        extra = _baseline(report) if provider == "smtp" else f"target ≥ {TARGET:,.0f} msgs/s"
        row(f"{NAMES[provider]} msgs/s (min / median / max)", [_cell(runs[b]) for b in BACKENDS], extra)
        row("  CPU per message: sender (sink)", [_cpu(runs[b]) for b in BACKENDS])
        row("  checked", [_checked(runs[b]) for b in BACKENDS])
    lines.extend(f"note: {problem}" for problem in report.problems)
    return "\n".join(lines)


def write_json(report: ChannelsReport, path: Path) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---- on its own ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,postgresql")
    parser.add_argument("--baseline-messages", type=int, default=5000, help="messages smtp-source sends")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures as JSON")
    return parser.parse_args(argv)


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The options of the channel runs (``prefix`` "channel-" where they sit among run.py's)."""
    parser.add_argument(f"--{prefix}messages", type=int, default=5000, help="messages queued per run")
    parser.add_argument(f"--{prefix}runs", type=int, default=3, help="runs of each provider")
    parser.add_argument(f"--{prefix}concurrency", type=int, default=32, help="sends in flight (DeliverySettings)")
    parser.add_argument(f"--{prefix}latency", type=float, default=0.005, help="seconds each local server waits")
    parser.add_argument(f"--{prefix}providers", default=",".join(PROVIDERS), help="comma-separated: line,ses,smtp")
    if not prefix:
        parser.add_argument("--smtp-pool", type=int, default=8, help="SmtpChannel connections for the relay")
        parser.add_argument("--profile", type=Path, default=None,
                            help="write cProfile stats of each timed drain to this directory (slows them)")


def plan_of(args: argparse.Namespace, prefix: str = "") -> Plan:
    get = vars(args)
    key = prefix.replace("-", "_")
    providers = tuple(p.strip() for p in get[f"{key}providers"].split(",") if p.strip() in PROVIDERS)
    return Plan(get[f"{key}messages"], max(get[f"{key}runs"], 1), get[f"{key}concurrency"], get[f"{key}latency"],
                get["smtp_pool"], providers, get.get("profile"))


async def main(args: argparse.Namespace) -> ChannelsReport:
    plan = plan_of(args)
    header = {"cores": os.cpu_count(), "python": platform.python_version(),
              "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "load_before": load(),
              "reference_loop_seconds": reference_loop_seconds()}
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    problems = []
    if "postgresql" in backends and (problem := await postgres_problem()):
        say(f"PostgreSQL is not reachable ({problem}); running SQLite only")
        backends.remove("postgresql")
        problems.append(f"postgresql not reachable: {problem}")
    smtp, baseline = None, None
    if "smtp" in plan.providers:
        if problem := tools_problem():
            problems.append(problem)
        else:
            smtp = await SmtpSink.start()
            baseline = await smtp_source(smtp, messages=args.baseline_messages)
            say(f"baseline: {baseline.command}: {baseline.per_second:.0f} msg/s")
    try:
        report = await bench_channels(backends, plan, smtp, baseline, header)
    finally:
        if smtp is not None:
            await smtp.stop()
    report.problems[:0] = problems
    report.header["load_after"] = load()
    return report


def run_loop(work: Coroutine[Any, Any, T]) -> T:
    """On uvloop where it is installed, as ``afterorder serve`` and ``afterorder worker`` run."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


if __name__ == "__main__":
    arguments = parse_args()
    result = run_loop(main(arguments))
    say("")
    say(render(result))
    write_json(result, arguments.json)
    say(f"figures written to {arguments.json}")

"""The final table (figures side by side with the baseline and the targets) and the JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from burst import BurstResult
from latency import LatencyResult
from percentiles import Percentile
from sink import SourceResult
from sleeping import SleepingResult
from throughput import ThroughputResult

BACKENDS = ("sqlite", "postgresql")
LABEL_WIDTH = 35
CELL_WIDTH = 16
ONE = "{:.1f}"


@dataclass
class BackendFigures:
    latency: LatencyResult | None = None
    throughput: ThroughputResult | None = None
    burst: BurstResult | None = None
    sleeping: SleepingResult | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"latency": self.latency.as_json() if self.latency else None,
                "throughput": self.throughput.as_json() if self.throughput else None,
                "burst": asdict(self.burst) if self.burst else None,
                "sleeping": asdict(self.sleeping) if self.sleeping else None,
                "problems": self.problems}


@dataclass
class BenchReport:
    header: dict[str, Any]
    baseline: SourceResult | None = None
    baseline_reuse: SourceResult | None = None
    baseline_problem: str | None = None
    backends: dict[str, BackendFigures] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        def source(r: SourceResult | None) -> dict[str, Any] | None:
            return {"command": r.command, "messages": r.messages, "seconds": round(r.seconds, 3),
                    "per_second": round(r.per_second, 1)} if r else None

        return {**self.header, "elapsed_seconds": round(self.elapsed_seconds, 1),
                "baseline": {"smtp_source": source(self.baseline), "smtp_source_reusing_connections":
                             source(self.baseline_reuse), "problem": self.baseline_problem},
                "backends": {name: figures.as_json() for name, figures in self.backends.items()}}


def _ms(p: Percentile | None) -> str:
    if p is None:
        return "–"
    return f"{'>' if p.lower_bound else ''}{p.seconds * 1000:.0f} ms"


def _num(value: float | None, fmt: str = "{:.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def render_table(report: BenchReport) -> str:
    h = report.header
    rate = h.get("rate", 200)
    lines = [f"afterorder bench  ({h['cores']} cores, Python {h['python']}, {h['date']}; "
             f"load avg {h['load_before']:.2f} at start; reference loop {h.get('reference_loop_seconds', 0):.2f} s)"]

    def row(label: str, cells: list[str], extra: str = "") -> None:
        lines.append(f"{label:<{LABEL_WIDTH}}" + "".join(f"{c:<{CELL_WIDTH}}" for c in cells) + extra)

    def per_backend(get: Any) -> list[str]:
        out = []
        for name in BACKENDS:
            figures = report.backends.get(name)
            try:
                out.append(get(figures) if figures else "–")
            except (AttributeError, TypeError):
                out.append("–")
        return out

    row("", list(BACKENDS), "baseline / target")
    seconds, clients = h.get("latency_seconds", 600), h.get("latency_connections", 8)
    lines.append(f"latency: single events at {rate:g}/s for {seconds:g} s over {clients} keep-alive clients, "
                 "event due → mail accepted at the bench's SMTP receiver")
    row(f"event→SMTP p50 @{rate:g} ev/s", per_backend(lambda f: _ms(f.latency.p50)), "target ≤ 100 ms")
    row(f"event→SMTP p99 @{rate:g} ev/s", per_backend(lambda f: _ms(f.latency.p99)), "target ≤ 500 ms")
    row("  p90 / max", per_backend(lambda f: f"{_ms(f.latency.p90)[:-3]}/{_ms(f.latency.max)[:-3]}"))
    row("  mails received / events sent", per_backend(lambda f: f"{f.latency.received}/{f.latency.sent}"))
    row("  events accepted/s (HTTP 2xx)", per_backend(lambda f: _num(f.latency.accepted_per_second)),
        f"offered: {rate:g}/s")
    row("  mails arriving/s", per_backend(lambda f: _num(f.latency.mail_per_second)))
    row("  serve CPU: per event, of a core", per_backend(
        lambda f: f"{_num(f.latency.serve_cpu_ms_per_event, '{:.1f}')} ms/{_num(f.latency.serve_cpu_share, '{:.0%}')}"),
        "target ≤ 2 ms per event")
    row("  helpers' CPU per event", per_backend(
        lambda f: f"{_num(f.latency.helpers_cpu_ms_per_event, '{:.1f}')} ms"), "(rendering processes; no target)")
    mark = "minute 2 → 10" if seconds == 600 else f"{0.2 * seconds:g} s → {seconds:g} s (20 % → 100 %)"
    row("  RSS serve+helpers, MB", per_backend(
        lambda f: f"{f.latency.memory.from_mb:.0f} → {f.latency.memory.to_mb:.0f}"), mark)
    row("  RSS growth", per_backend(lambda f: f"{100 * f.latency.memory.growth:+.1f} %"),
        "target ≤ 10 % (minute 2 → 10)")
    row("  POST answer p50 / p99", per_backend(
        lambda f: f"{_num(f.latency.http_p50_ms)}/{_num(f.latency.http_p99_ms)} ms"))
    source = report.baseline
    base = (f"smtp-source: {source.per_second:.0f} msg/s" if source else
            f"smtp-source: {report.baseline_problem or 'not run'}")
    if source:
        ratios = []
        for name in BACKENDS:
            figures = report.backends.get(name)
            if figures and figures.throughput:
                ratios.append(f"{figures.throughput.deliver.per_second / source.per_second:.2f}")
        if ratios:
            base += f" (ratio {' / '.join(ratios)})"
    row("burst: mails/s, HTTP in → sink", per_backend(lambda f: _num(f.burst.mails_per_second)),
        "target ≥ 0.50 of smtp-source, same run")
    row("  ratio to smtp-source (same run)", per_backend(
        lambda f: f"{f.burst.ratio:.2f} of {f.burst.ceiling_per_second:,.0f}"))
    row("  batch API events/s accepted", per_backend(lambda f: _num(f.burst.accepted_per_second)),
        "target ≥ 5,000/s (PostgreSQL)")
    row("sleeping runs: serve MB idle/peak", per_backend(
        lambda f: f"{f.sleeping.serve_rss_idle_mb:.0f}/{f.sleeping.serve_rss_peak_mb:.0f}"), "target ≤ 200 MB")
    row("  with its helpers, idle/peak", per_backend(
        lambda f: f"{f.sleeping.rss_idle_mb:.0f}/{f.sleeping.rss_peak_mb:.0f}"))
    row("  new order's mail, max of probes", per_backend(
        lambda f: f"{max(f.sleeping.confirmation_ms):.0f} ms"), "target < 1 s")
    row("  runs/s when all come due", per_backend(lambda f: _num(f.sleeping.runs_per_second)),
        "target ≥ 5,000 runs/s")
    row("delivery emails/s (pre-rendered)", per_backend(lambda f: _num(f.throughput.deliver.per_second)), base)
    reuse = report.baseline_reuse
    row("  SQL statements / email", per_backend(lambda f: _num(f.throughput.deliver.statements_each, ONE)),
        f"smtp-source -d (reusing connections): {reuse.per_second:.0f} msg/s" if reuse else "")
    row("  wall time inside SQL", per_backend(lambda f: f"{f.throughput.deliver.sql_share:.0%}"),
        "target ≥ 1,000 emails/s")
    row("scheduler runs/s (render+queue)", per_backend(lambda f: _num(f.throughput.schedule.per_second)))
    row("  SQL statements / run", per_backend(lambda f: _num(f.throughput.schedule.statements_each, ONE)))
    row("intake events/s (batches of 100)", per_backend(lambda f: _num(f.throughput.ingest.per_second)))
    row("  SQL statements / event", per_backend(lambda f: _num(f.throughput.ingest.statements_each, ONE)))
    for name in BACKENDS:
        figures = report.backends.get(name)
        if figures and figures.latency and figures.latency.slices:
            lines.append("")
            lines.extend(drift_table(name, figures.latency))
    notes = []
    for name in BACKENDS:
        figures = report.backends.get(name)
        if not figures:
            continue
        for problem in figures.problems:
            notes.append(f"{name}: {problem}")
        if figures.latency:
            lat = figures.latency
            notes.extend(f"{name}: {note}" for note in lat.notes)
            if lat.memory:
                m = lat.memory
                notes.append(f"{name}: latency run's memory: serve alone {m.serve_from_mb:.0f} → "
                             f"{m.serve_to_mb:.0f} MB, "
                             f"with its helpers {m.from_mb:.0f} → {m.to_mb:.0f} MB at {m.from_s:.0f} s → "
                             f"{m.to_s:.0f} s ({m.processes} processes, peak {m.peak_mb:.0f} MB); "
                             "the database server is not counted")
            notes.append(f"{name}: latency run's bench process (client and SMTP receiver) used "
                         f"{_num(lat.bench_cpu_share, '{:.0%}')} of a core; connection wait p99 "
                         f"{_num(lat.connection_wait_p99_ms)} ms; the sender fired at most "
                         f"{lat.sender_lag_max_ms:.0f} ms late")
            if figures.latency.http_errors:
                notes.append(f"{name}: HTTP errors during the latency run: {figures.latency.http_errors}")
        if figures.burst:
            b = figures.burst
            notes.append(f"{name}: burst of {b.orders:,} orders in batches of {b.batch} over {b.clients} "
                         f"keep-alive clients, serve --workers {b.workers}; {b.delivered:,} mails counted by the "
                         f"sink in {b.deliver_seconds:.0f} s; HTTP retries: {b.http_errors or 'none'}")
        if figures.sleeping:
            z = figures.sleeping
            notes.append(f"{name}: {z.runs_waiting:,} runs waiting ({z.note}); {z.advanced:,} advanced in "
                         f"{z.advance_seconds:.0f} s; probes {z.confirmation_ms} ms")
        if figures.throughput:
            t = figures.throughput
            notes.append(f"{name}: delivery drained {t.queued} queued ({t.schedule.count} rendered by the "
                         f"scheduler, {t.copied} copies), SmtpChannel pool {t.smtp_pool}, "
                         f"{t.concurrency} in flight, mean message {t.mean_message_bytes} bytes "
                         f"(smtp-source sends ~2 KB); smtp-sink counted {t.sink_accepted}; "
                         f"outbox after: {t.outbox_status}")
    notes.append("'wall time inside SQL' runs from a statement's start to its end while other tasks keep "
                 "sending; 'SQL statements' count executes (an executemany is one)")
    if notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in notes)
    lines.append(f"(took {report.elapsed_seconds:.0f} s; load avg {h.get('load_after', 0):.2f} at the end — "
                 "other work on this machine skews every figure)")
    return "\n".join(lines)


def drift_table(name: str, latency: LatencyResult) -> list[str]:
    """The latency run slice by slice (a minute each at 600 s), so drift over the run shows."""
    width = latency.seconds / max(len(latency.slices), 1)
    out = [f"{name}: the latency run in slices of {width:g} s"
           f"{' (minutes)' if width == 60 else ''}",
           f"  {'from–to':<14}{'p50':>9}{'p99':>9}{'mails':>13}{'serve CPU/ev':>14}{'helpers/ev':>12}{'RSS MB':>8}"]
    for s in latency.slices:
        out.append(f"  {f'{s.start_s:g}–{s.end_s:g} s':<14}{_ms(s.p50):>9}{_ms(s.p99):>9}"
                   f"{f'{s.received}/{s.events}':>13}"
                   f"{_num(s.serve_cpu_ms_per_event, '{:.2f}') + ' ms':>14}"
                   f"{_num(s.helpers_cpu_ms_per_event, '{:.2f}') + ' ms':>12}{_num(s.rss_mb):>8}")
    return out


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

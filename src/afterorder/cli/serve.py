"""``afterorder serve``, ``worker``, ``demo`` and ``flows``: the long-running commands."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from afterorder.audit.retention import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from afterorder.channels import RetryPolicy
from afterorder.cli.common import Database, FlowDirs, SecretKey, fail, run
from afterorder.clock import Clock, OffsetClock, SystemClock
from afterorder.db.database import DEFAULT_URL, DatabaseUrlError
from afterorder.db.stores import get_store
from afterorder.dev.receivers import DevReceivers, start_dev_receivers
from afterorder.flows.catalog import FlowCatalog, FlowRefused
from afterorder.flows.composers import HelperGone
from afterorder.flows.spec import FlowError
from afterorder.intake.limits import MAX_BODY_BYTES, MAX_BODY_BYTES_SETTING, MIN_BODY_BYTES
from afterorder.keys.sealing import Sealer, SealError
from afterorder.processes.heap import freeze_startup_objects
from afterorder.processes.parent import PARENT_ENV, parent_of, stop_when_orphaned
from afterorder.runtime import Runtime, RuntimeSettings
from afterorder.web.rate_limits import LimitClass, RateLimitSettings

Smtp = Annotated[str | None, typer.Option("--smtp", envvar="AFTERORDER_SMTP_URL",
                                          help="smtp://user:pass@host:port (?starttls=1, smtps:// for TLS)")]
Listen = Annotated[str, typer.Option("--listen", help="HOST:PORT for the HTTP API")]
TemplateDirs = Annotated[list[Path] | None, typer.Option("--templates", help="a directory of your message templates")]
RetryBase = Annotated[float, typer.Option("--retry-base", help="seconds before the first retry; doubles each time")]
RateLimit = Annotated[list[str] | None, typer.Option(
    "--rate-limit", metavar="CLASS=N/s|N/min[,burst=M]",
    help="a rate limit per process: public, one_click (per store and client address), webhooks, api (per key); "
         "e.g. public=30/min,burst=20 (defaults: afterorder.web.rate_limits)")]
TrustedProxy = Annotated[list[str] | None, typer.Option(
    "--trusted-proxy", metavar="ADDRESS|CIDR",
    help="a reverse proxy whose X-Forwarded-For names the client (otherwise the socket peer is the client)")]
RenderProcesses = Annotated[int, typer.Option(
    "--render-processes", min=0, max=64,
    help="helper processes that render messages, so rendering uses another core (0: render in this process)")]
AuditRetention = Annotated[int, typer.Option(
    "--audit-retention-days", min=MIN_RETENTION_DAYS, max=MAX_RETENTION_DAYS,
    help="audit log entries older than this many days are deleted (checked hourly)")]


def run_async(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived command on uvloop where it is installed (a faster event loop), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise fail(f"--listen wants HOST:PORT, not {listen!r}")
    return host, int(port)


def _rate_limits(rate_limits: list[str] | None, trusted_proxies: list[str] | None) -> RateLimitSettings:
    try:
        return RateLimitSettings.build(rate_limits or (), trusted_proxies or ())
    except ValueError as exc:
        raise fail(str(exc)) from None


def is_loopback(host: str) -> bool:
    bare = host.strip("[]")
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def listening_note(host: str, port: int) -> str:
    """What ``serve`` says about who can reach it."""
    if is_loopback(host):
        return (f"listening on {host}:{port}, loopback only: other machines cannot connect "
                f"(--listen 0.0.0.0:{port} to accept them, behind a TLS proxy)")
    return (f"listening on {host}:{port}: other machines can connect; put a TLS proxy in front "
            "and name it with --trusted-proxy so its X-Forwarded-For is believed")


def limits_note(limits: RateLimitSettings) -> str:
    def one(name: LimitClass) -> str:
        limit = limits.limits[name]
        rate = f"{limit.per_second * 60:g}/min" if limit.per_second < 10 else f"{limit.per_second:g}/s"
        return f"{name} {rate} burst {limit.burst}"

    proxies = ", ".join(str(p) for p in limits.trusted_proxies) or "none"
    return (f"rate limits in this process: {one('public')} per store and client address (one-click unsubscribe "
            f"{one('one_click')}), {one('webhooks')} per store and address, {one('api')} per key; "
            f"trusted proxies: {proxies}")


def _check_secret_key(secret_key: str | None) -> None:
    """A configured key that is not a Fernet key stops the command at once, not at the first send."""
    try:
        if secret_key and secret_key.strip():
            Sealer.from_setting(secret_key)
    except SealError as exc:
        raise fail(str(exc)) from None


def _load_catalog(flow_dirs: list[Path] | None) -> None:
    try:
        FlowCatalog.load(flow_dirs or [])
    except FlowError as exc:
        raise fail(str(exc)) from None


async def _start_workers(runtime: Runtime) -> None:
    try:
        await runtime.start_workers()
    except HelperGone as exc:
        await runtime.close()
        raise fail(f"cannot start a rendering helper process ({exc}); "
                   "--render-processes 0 renders in this process instead") from None


async def _until_signalled(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_async(*, database: str, smtp: str | None, listen: str, dev_clock: bool, dev_smtp: bool,
                      base_url: str | None, flow_dirs: list[Path], retry_base: float, lease: float,
                      poll: float = 0.5, template_dirs: list[Path] | None = None, workers: int = 0,
                      render_processes: int = 1, after_start: Any = None, secret_key: str | None = None,
                      dev_sinks: bool = False, limits: RateLimitSettings | None = None,
                      max_body_bytes: int = MAX_BODY_BYTES,
                      audit_retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
    """``dev_smtp``: the development SMTP server and ``/inbox``; ``dev_sinks`` (with it): the local LINE and
    Twilio beside it.  ``after_start(runtime, url, receivers)`` runs once the server listens."""
    from afterorder.web.app import create_app

    host, port = _host_port(listen)
    clock: Clock = OffsetClock() if dev_clock else SystemClock()
    dev: DevReceivers | None = None
    if dev_smtp:
        dev = await start_dev_receivers(sinks=dev_sinks, clock=clock.now)
        smtp = dev.smtp.url
    if not smtp:
        raise fail("no mail server: pass --smtp smtp://host:port (or --dev-smtp for the built-in test server)")
    settings = RuntimeSettings(database_url=database, smtp_url=smtp, base_url=base_url or f"http://{listen}",
                               flow_dirs=tuple(flow_dirs), template_dirs=tuple(template_dirs or []),
                               retry=RetryPolicy(base_seconds=retry_base),
                               lease_seconds=lease, poll_seconds=poll, render_processes=render_processes,
                               secret_key=secret_key, max_body_bytes=max_body_bytes,
                               audit_retention_days=audit_retention_days)
    runtime = Runtime(settings, clock)
    try:
        await runtime.migrate()
    except OSError as exc:
        raise fail(f"cannot reach the database: {exc}") from None
    children: list[asyncio.subprocess.Process] = []
    if workers:
        worker_args = ["--database", database, "--smtp", smtp, "--base-url", settings.base_url, "--lease", str(lease),
                       "--retry-base", str(retry_base), "--poll", str(min(poll, 0.05)),
                       "--render-processes", str(render_processes),
                       "--audit-retention-days", str(audit_retention_days)]
        for directory in flow_dirs:
            worker_args += ["--flows", str(directory)]
        for directory in template_dirs or []:
            worker_args += ["--templates", str(directory)]
        env = {**os.environ, **({"AFTERORDER_SECRET_KEY": secret_key} if secret_key else {}),  # not in argv
               PARENT_ENV: str(os.getpid())}  # the workers stop if this process is killed (processes/parent.py)
        children = [await asyncio.create_subprocess_exec(sys.executable, "-m", "afterorder", "worker", *worker_args,
                                                         env=env)
                    for _ in range(workers)]
    else:
        await _start_workers(runtime)
    web = create_app(runtime, dev_clock=clock if isinstance(clock, OffsetClock) else None,
                     dev=dev, limits=limits)
    # proxy_headers off: uvicorn would believe X-Forwarded-For from loopback; rate_limits decides (--trusted-proxy)
    server = uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="warning", lifespan="off",
                                           access_log=False, proxy_headers=False))
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no start event
        await asyncio.sleep(0.02)
    if serving.done():
        await serving
        raise fail(f"could not listen on {listen}")
    freeze_startup_objects()
    typer.echo(f"afterorder is serving on http://{host}:{port}  (API docs: http://{host}:{port}/api/docs)")
    typer.echo(listening_note(host, port))
    typer.echo(limits_note(limits or RateLimitSettings()))
    if dev:
        _echo_receivers(dev, f"http://{host}:{port}/inbox")
    extra = asyncio.create_task(after_start(runtime, f"http://{host}:{port}", dev)) if after_start else None
    try:
        await _until_signalled(runtime.stop)
    finally:
        if extra:
            extra.cancel()
        server.should_exit = True
        await serving
        for child in children:
            child.terminate()
        for child in children:
            await child.wait()
        await runtime.close()
        if dev:
            await dev.close()


def _echo_receivers(dev: DevReceivers, inbox: str) -> None:
    typer.echo(f"development SMTP server on {dev.smtp.url}")
    if dev.line_url:
        typer.echo(f"local LINE Messaging API on {dev.line_url}")
    if dev.sms_url:
        typer.echo(f"local Twilio (SMS) on {dev.sms_url}")
    typer.echo(f"what they received: {inbox}")


def serve(
    database: Database = DEFAULT_URL, smtp: Smtp = None, listen: Listen = "127.0.0.1:8000",
    dev_clock: Annotated[bool, typer.Option("--dev-clock", help="allow POST /dev/clock/advance")] = False,
    dev_smtp: Annotated[bool, typer.Option("--dev-smtp", help="built-in development SMTP server + /inbox")] = False,
    base_url: Annotated[str | None, typer.Option(help="public URL of this server, for links")] = None,
    flow_dirs: FlowDirs = None, template_dirs: TemplateDirs = None, retry_base: RetryBase = 30.0,
    lease: Annotated[float, typer.Option(help="seconds a worker holds claimed work")] = 60.0,
    poll: Annotated[float, typer.Option(help="seconds between looks for due work")] = 0.5,
    workers: Annotated[int, typer.Option(help="run scheduling and delivery in N worker processes (uses more cores)",
                                         min=0, max=64)] = 0,
    render_processes: RenderProcesses = 1, secret_key: SecretKey = None,
    rate_limits: RateLimit = None, trusted_proxies: TrustedProxy = None,
    max_body_bytes: Annotated[int, typer.Option(
        help="the largest request body the API and the webhooks read (413 past it)",
        min=MIN_BODY_BYTES, max=MAX_BODY_BYTES_SETTING)] = MAX_BODY_BYTES,
    audit_retention_days: AuditRetention = DEFAULT_RETENTION_DAYS,
) -> None:
    """Run the HTTP API, the scheduler and delivery (in this process, or in --workers N child processes)."""
    _load_catalog(flow_dirs)
    _check_secret_key(secret_key)
    limits = _rate_limits(rate_limits, trusted_proxies)
    if workers and dev_clock:
        raise fail("--dev-clock moves this process's clock only; it cannot be combined with --workers")
    try:
        run_async(serve_async(database=database, smtp=smtp, listen=listen, dev_clock=dev_clock, dev_smtp=dev_smtp,
                                base_url=base_url, flow_dirs=flow_dirs or [], retry_base=retry_base, lease=lease,
                                poll=poll, template_dirs=template_dirs, workers=workers,
                                render_processes=render_processes, secret_key=secret_key, limits=limits,
                                max_body_bytes=max_body_bytes, audit_retention_days=audit_retention_days))
    except DatabaseUrlError as exc:
        raise fail(str(exc)) from None


def worker(database: Database = DEFAULT_URL, smtp: Smtp = None, flow_dirs: FlowDirs = None,
           template_dirs: TemplateDirs = None, retry_base: RetryBase = 30.0,
           base_url: Annotated[str, typer.Option(help="public URL of the API server, for links")] = "http://127.0.0.1:8000",
           lease: Annotated[float, typer.Option(help="seconds a worker holds claimed work")] = 60.0,
           poll: Annotated[float, typer.Option(help="seconds between looks for due work")] = 0.5,
           render_processes: RenderProcesses = 1, secret_key: SecretKey = None,
           audit_retention_days: AuditRetention = DEFAULT_RETENTION_DAYS) -> None:
    """Run an extra scheduler + delivery process (any number, on any machine, sharing one PostgreSQL)."""
    _load_catalog(flow_dirs)
    _check_secret_key(secret_key)
    if not smtp:
        raise fail("no mail server: pass --smtp smtp://host:port or set AFTERORDER_SMTP_URL")

    async def main() -> None:
        runtime = Runtime(RuntimeSettings(database_url=database, smtp_url=smtp, flow_dirs=tuple(flow_dirs or []),
                                          template_dirs=tuple(template_dirs or []), base_url=base_url,
                                          retry=RetryPolicy(base_seconds=retry_base), lease_seconds=lease,
                                          poll_seconds=poll, render_processes=render_processes,
                                          secret_key=secret_key, audit_retention_days=audit_retention_days),
                          SystemClock())
        try:
            await runtime.migrate()
        except OSError as exc:
            raise fail(f"cannot reach the database: {exc}") from None
        await _start_workers(runtime)
        freeze_startup_objects()
        typer.echo(f"worker {runtime.scheduler.settings.worker_id} started", err=True)
        parent = parent_of(os.environ)
        orphaned = asyncio.create_task(stop_when_orphaned(parent, runtime.stop)) if parent else None
        try:
            await _until_signalled(runtime.stop)
        finally:
            if orphaned:
                orphaned.cancel()
            await runtime.close()

    try:
        run_async(main())
    except DatabaseUrlError as exc:
        raise fail(str(exc)) from None


def demo(listen: Listen = "127.0.0.1:8000",
         database: Database = "sqlite:///./afterorder-data/demo.db",
         day_seconds: Annotated[float, typer.Option(help="real seconds per simulated day")] = 6.0) -> None:
    """Run afterorder with a development mail server, local LINE and SMS providers and two simulated stores,
    on a fast clock."""
    from afterorder.dev.demo import simulate

    async def after_start(runtime: Runtime, url: str, receivers: DevReceivers) -> None:
        await simulate(runtime, url, receivers, day_seconds=day_seconds)

    run_async(serve_async(database=database, smtp=None, listen=listen, dev_clock=True, dev_smtp=True,
                          dev_sinks=True, base_url=None, flow_dirs=[], retry_base=5.0, lease=30.0,
                          after_start=after_start))


def _flow_rows(catalog: FlowCatalog, slug: str, enabled: set[str]) -> list[dict[str, Any]]:
    return [{"id": s.id, "name": s.name, "state": "on" if s.id in enabled else "off", "trigger": s.trigger.event.value,
             "category": s.category, "version": s.version, "steps": [i.label for i in s.program]}
            for s in catalog.flows_for(slug).values()]


def flows_list(store: Annotated[str, typer.Option()], database: Database = DEFAULT_URL, flow_dirs: FlowDirs = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every flow with its id, state, trigger and category."""
    try:
        catalog = FlowCatalog.load(flow_dirs or [])
    except FlowError as exc:
        raise fail(str(exc)) from None

    async def work(engine: Any) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            target = await get_store(conn, store)
            if target is None:
                raise fail(f"no store called {store!r}")
            enabled = {s.id for s in await catalog.enabled(conn, target)}
            return _flow_rows(catalog, target.slug, enabled)

    rows = run(database, work)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            typer.echo(f"{r['state']:>3}  {r['id']:<24} on {r['trigger']:<18} {r['category']}")


def _set_flow(flow: str, store: str, enabled: bool, database: str, flow_dirs: list[Path] | None) -> None:
    try:
        catalog = FlowCatalog.load(flow_dirs or [])
    except FlowError as exc:
        raise fail(str(exc)) from None
    known = catalog.flows_for(store)
    if flow not in known:
        raise fail(f"no flow called {flow!r}; known: {', '.join(sorted(known))}")

    async def work(engine: Any) -> None:
        async with engine.begin() as conn:
            target = await get_store(conn, store)
            if target is None:
                raise fail(f"no store called {store!r}")
            try:
                await catalog.set_enabled(conn, target, flow, enabled, SystemClock().now())
            except FlowRefused as exc:
                raise fail(f"{flow} cannot be switched on for {store}:\n  " + "\n  ".join(exc.problems)) from None

    run(database, work)
    typer.echo(f"{flow} is {'on' if enabled else 'off'} for {store}")


def flows_enable(flow: str, store: Annotated[str, typer.Option()], database: Database = DEFAULT_URL,
                 flow_dirs: FlowDirs = None) -> None:
    """Switch a flow on for a store."""
    _set_flow(flow, store, True, database, flow_dirs)


def flows_disable(flow: str, store: Annotated[str, typer.Option()], database: Database = DEFAULT_URL,
                  flow_dirs: FlowDirs = None) -> None:
    """Switch a flow off for a store."""
    _set_flow(flow, store, False, database, flow_dirs)

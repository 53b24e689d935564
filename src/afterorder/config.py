"""Settings from ``afterorder.toml``: defaults for the command's options, checked before anything runs.

The file is ``./afterorder.toml``, or the path in ``AFTERORDER_CONFIG``.  Precedence, highest first:
a command-line flag, an ``AFTERORDER_*`` environment variable, the file, the built-in default.

    database = "postgresql://afterorder@db.internal/afterorder"
    smtp = "smtp://user:secret@mail.internal:587?starttls=1"
    base_url = "https://mail.example.com"
    listen = "0.0.0.0:8000"
    workers = 2
    render_processes = 1  # helper processes that render messages (0: in the process itself)
    flows = ["/etc/afterorder/flows"]
    templates = ["/etc/afterorder/templates"]
    secret_key = "…"    # Fernet key(s), comma-separated, the sealing one first: seals the stores'
                        # provider credentials, webhook secrets and DKIM keys (``afterorder secrets
                        # new-key`` makes one; without it, a key file beside the database is made and
                        # used: ``afterorder.keys.sealing``; rotation: ``afterorder.keys.stored``)

    trusted_proxies = ["10.0.0.5"]  # peers whose X-Forwarded-For is believed (addresses or CIDRs)

    [delivery]
    retry_base = 30     # seconds before the first retry; doubles each time
    lease = 60          # seconds a worker holds claimed work
    poll = 0.5          # seconds between looks for due work

    [rate_limits]       # per process; defaults and keys: afterorder.web.rate_limits
    public = {per_minute = 30, burst = 20}      # unsubscribe, preferences, surveys, ... per store and address
    one_click = {per_second = 10, burst = 100}  # RFC 8058 one-click unsubscribe POSTs (mailbox providers)
    webhooks = {per_second = 5000, burst = 10000}
    api = {per_second = 10000, burst = 20000}   # per API key

    [limits]
    max_body_bytes = 1048576  # the largest request body ``serve`` reads (413 past it; afterorder.intake.limits)

    [audit]
    retention_days = 400  # audit log entries older than this are pruned hourly (afterorder.audit.retention)

A key the file does not know, or a value of the wrong kind, stops the command with the file, the
key and the problem — a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from afterorder.audit.retention import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from afterorder.intake.limits import MAX_BODY_BYTES_SETTING, MIN_BODY_BYTES

DEFAULT_FILE = "afterorder.toml"


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file, the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeliverySettings(_Strict):
    retry_base: Annotated[float, Field(gt=0)] | None = None
    lease: Annotated[float, Field(gt=0)] | None = None
    poll: Annotated[float, Field(gt=0)] | None = None


class LimitSetting(_Strict):
    """One rate limit: ``per_second`` or ``per_minute`` (one of them), and the ``burst`` held at most."""

    per_second: Annotated[float, Field(gt=0)] | None = None
    per_minute: Annotated[float, Field(gt=0)] | None = None
    burst: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> LimitSetting:
        if (self.per_second is None) == (self.per_minute is None):
            raise ValueError("give per_second or per_minute (one of them)")
        return self

    def spec(self, name: str) -> str:
        """As ``serve --rate-limit`` takes it."""
        rate = f"{self.per_second:g}/s" if self.per_second is not None else f"{self.per_minute:g}/min"
        return f"{name}={rate}" + (f",burst={self.burst}" if self.burst is not None else "")


class RateLimitsSection(_Strict):
    public: LimitSetting | None = None
    one_click: LimitSetting | None = None
    webhooks: LimitSetting | None = None
    api: LimitSetting | None = None

    def specs(self) -> list[str] | None:
        found = [limit.spec(name) for name, limit in (("public", self.public), ("one_click", self.one_click),
                                                      ("webhooks", self.webhooks), ("api", self.api))
                 if limit is not None]
        return found or None


class RequestLimitsSection(_Strict):
    """Limits at the door (afterorder.intake.limits) an operator may set."""

    max_body_bytes: Annotated[int, Field(ge=MIN_BODY_BYTES, le=MAX_BODY_BYTES_SETTING)] | None = None


class AuditSection(_Strict):
    """How long the audit log is kept (afterorder.audit.retention)."""

    retention_days: Annotated[int, Field(ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS)] | None = None


class Settings(_Strict):
    database: str | None = None
    smtp: str | None = None
    base_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    listen: Annotated[str, Field(pattern=r"^.+:\d+$")] | None = None
    workers: Annotated[int, Field(ge=0, le=64)] | None = None
    render_processes: Annotated[int, Field(ge=0, le=64)] | None = None
    flows: list[str] | None = None
    templates: list[str] | None = None
    secret_key: str | None = None
    trusted_proxies: list[str] | None = None
    delivery: DeliverySettings = DeliverySettings()
    rate_limits: RateLimitsSection = RateLimitsSection()
    limits: RequestLimitsSection = RequestLimitsSection()
    audit: AuditSection = AuditSection()

    def option_defaults(self) -> dict[str, Any]:
        """Option name (as the commands spell it) → value, for the options the file sets."""
        values: dict[str, Any] = {
            "database": self.database, "smtp": self.smtp, "base_url": self.base_url, "listen": self.listen,
            "workers": self.workers, "render_processes": self.render_processes,
            "flow_dirs": self.flows, "template_dirs": self.templates, "secret_key": self.secret_key,
            "retry_base": self.delivery.retry_base, "lease": self.delivery.lease, "poll": self.delivery.poll,
            "trusted_proxies": self.trusted_proxies, "rate_limits": self.rate_limits.specs(),
            "max_body_bytes": self.limits.max_body_bytes, "audit_retention_days": self.audit.retention_days,
        }
        return {k: v for k, v in values.items() if v is not None}


def config_path(environ: dict[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The file to read: ``AFTERORDER_CONFIG`` (which must exist), else ``./afterorder.toml`` if present."""
    env = os.environ if environ is None else environ
    named = env.get("AFTERORDER_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"AFTERORDER_CONFIG names {named}, which is not a file")
        return path
    local = (cwd or Path.cwd()) / DEFAULT_FILE
    return local if local.is_file() else None


def load_settings(path: Path) -> Settings:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise ConfigError("\n  ".join([f"{path}:", *problems])) from None


def default_map(command: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """The command line's ``default_map`` for every (sub)command that has one of these options."""
    found: dict[str, Any] = {name: value for name, value in defaults.items()
                             if any(p.name == name for p in command.params)}
    subcommands = getattr(command, "commands", None)  # a group (typer vendors its own click)
    if isinstance(subcommands, dict):
        for name, sub in subcommands.items():
            nested = default_map(sub, defaults)
            if nested:
                found[name] = nested
    return found

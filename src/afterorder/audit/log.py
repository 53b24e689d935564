"""Writing and reading the audit log (table ``audit_log``).

Contract:

- ``record`` is called inside the transaction that makes the change, so an entry exists exactly when
  the change was stored.
- An entry is ``who`` (``Actor``: a dashboard user by id and username, an API key by its label —
  the store's key prefix, never the key —, or ``cli:<os user>``), ``when`` (the runtime's clock),
  ``what`` (an ``Action`` with a ``target`` and a few ``details``: names, numbers, flags and
  from → to values) and ``from where`` (``Origin``: the client's address, its user agent).
- ``details`` never hold a secret or a customer's personal data: callers pass names and settings
  only; a customer is named by the store's internal customer id.  Strings are cut to 200 characters.
- Entries are read per store only (``entries``): no call reads another store's entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.db.schema import audit_log

MAX_TEXT: Final = 200
MAX_PAGE: Final = 500

Fact = str | int | float | bool | None


class Action(StrEnum):
    FLOW_ENABLED = "flow.enabled"
    FLOW_DISABLED = "flow.disabled"
    TEMPLATE_SAVED = "template.saved"
    TEMPLATE_RESET = "template.reset"
    TEMPLATE_TEST_SENT = "template.test_sent"
    SETTING_CHANGED = "setting.changed"
    SEGMENT_SAVED = "segment.saved"
    SEGMENT_REMOVED = "segment.removed"
    AB_TEST_STARTED = "ab_test.started"
    AB_TEST_STOPPED = "ab_test.stopped"
    CONTENT_SET = "content.set"
    CHANNEL_SET = "channel.set"
    CHANNEL_REMOVED = "channel.removed"
    CHANNELS_CHANGED = "channels.changed"
    PLATFORM_CONNECTED = "platform.connected"
    USER_SET = "user.set"
    CUSTOMER_ERASED = "customer.erased"
    CUSTOMER_EXPORTED = "customer.exported"
    STEP_TEST_SENT = "step.test_sent"
    ESP_CREDENTIALS_SET = "esp.credentials_set"
    SUPPRESSION_ADDED = "suppression.added"
    SUPPRESSION_LIFTED = "suppression.lifted"
    STORE_CREATED = "store.created"
    COUPONS_IMPORTED = "coupons.imported"
    SEGMENT_EXPORTED = "segment.exported"


class ActorKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    CLI = "cli"


@dataclass(frozen=True)
class Actor:
    """Who made the change."""

    kind: ActorKind
    label: str  # the username, ``key <prefix>…``, ``cli:<os user>``
    user_id: int | None = None


@dataclass(frozen=True)
class Origin:
    """Where the change came from."""

    address: str  # the client's address; ``local`` for the command line
    user_agent: str | None = None


@dataclass(frozen=True)
class Source:
    actor: Actor
    origin: Origin


@dataclass(frozen=True)
class Change:
    """What changed: ``target`` is the thing (a flow id, ``template/locale``, a setting's name...)."""

    action: Action
    target: str = ""
    details: Mapping[str, Fact] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    id: int
    store_id: int
    at: datetime
    actor: Actor
    change: Change
    origin: Origin

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "at": self.at.isoformat(),
                "actor": {"kind": self.actor.kind.value, "label": self.actor.label, "user_id": self.actor.user_id},
                "action": self.change.action.value, "target": self.change.target,
                "details": dict(self.change.details),
                "origin": {"address": self.origin.address, "user_agent": self.origin.user_agent}}


@dataclass(frozen=True)
class Page:
    entries: tuple[Entry, ...]
    total: int
    limit: int
    offset: int


def _cut(value: Fact) -> Fact:
    return value[:MAX_TEXT] if isinstance(value, str) else value


async def record(conn: AsyncConnection, store_id: int, source: Source, change: Change, now: datetime) -> None:
    """Add one entry (in the caller's transaction)."""
    await conn.execute(audit_log.insert().values(
        store_id=store_id, at=now, actor_kind=source.actor.kind.value, actor=source.actor.label[:128],
        actor_user_id=source.actor.user_id, action=change.action.value, target=change.target[:255],
        details={str(k)[:64]: _cut(v) for k, v in change.details.items()},
        address=source.origin.address[:64],
        user_agent=source.origin.user_agent[:255] if source.origin.user_agent else None))


async def entries(conn: AsyncConnection, store_id: int, *, action: str | None = None, actor: str | None = None,
                  limit: int = 50, offset: int = 0) -> Page:
    """The store's entries, newest first, filtered by action and by actor's label when given."""
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    where = [audit_log.c.store_id == store_id]
    if action:
        where.append(audit_log.c.action == action)
    if actor:
        where.append(audit_log.c.actor == actor)
    total = int((await conn.execute(select(func.count()).select_from(audit_log).where(*where))).scalar_one())
    rows = await conn.execute(select(audit_log).where(*where).order_by(audit_log.c.id.desc())
                              .limit(limit).offset(offset))
    found = tuple(Entry(r.id, r.store_id, r.at, Actor(ActorKind(r.actor_kind), r.actor, r.actor_user_id),
                        Change(Action(r.action), r.target, dict(r.details or {})),
                        Origin(r.address, r.user_agent)) for r in rows)
    return Page(found, total, limit, offset)


async def actors(conn: AsyncConnection, store_id: int) -> list[str]:
    """Everyone with an entry in the store, for the filter."""
    rows = await conn.execute(select(audit_log.c.actor).where(audit_log.c.store_id == store_id)
                              .group_by(audit_log.c.actor).order_by(audit_log.c.actor))
    return [r.actor for r in rows]

"""Receiving a platform webhook: find the store, verify, normalize, store, remember.

The answer goes back as soon as the events are stored (the intake only stores and schedules; flows
run later), so platforms see fast 200s.  Whatever is wrong with a delivery becomes a
``WebhookError`` (``afterorder.intake.errors``, the tree the feedback receivers share) with the
status the platform gets: 401 bad signature (nothing stored), 400 a body that cannot be read as the
topic says or that breaks a limit of ``intake.limits`` (nested too deep, a field out of bounds, a
time before 1970 or too far ahead of the clock: named), 404 an unknown store or platform, or one
the store has not connected, 503 a webhook secret the configured key cannot open (logged, and
named in the answer: ``afterorder.keys.stored``).  Bodies over the size limit are refused (413)
before they get here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.clock import Clock
from afterorder.db.platforms import StoredMemory, get_connection, record_ignored, remember
from afterorder.db.stores import StoreRow, get_store
from afterorder.domain import Connection
from afterorder.intake.adapters import PlatformAdapter, lower_headers
from afterorder.intake.errors import Malformed, NotConfigured, SecretsLocked, UnknownTarget, WebhookError
from afterorder.intake.horizon import Horizon, ahead_problems
from afterorder.intake.pipeline import Accepted, Intake
from afterorder.keys.sealing import Sealer, SealError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    status: str  # "stored" | "ignored" | "ping"; Ecwid's and EC-CUBE's (fetched later): "queued" | "duplicate"
    topic: str = ""
    accepted: list[Accepted] = field(default_factory=list)
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "topic": self.topic,
                                "accepted": [a.as_json() for a in self.accepted]}
        if self.reason:
            body["reason"] = self.reason
        return body


PART = {"CustomerIn": "customer", "OrderIn": "order", "LineIn": "line", "Address": "address", "Event": "event",
        "ShipmentIn": "shipment", "ProductIn": "product", "CheckoutIn": "checkout", "RefundIn": "refund",
        "RefundLineIn": "refund line"}


def _fields(exc: ValidationError) -> str:
    part = PART.get(exc.title, exc.title)
    return "; ".join(f"{'.'.join([part, *(str(p) for p in e['loc'])])}: {e['msg']}"
                     for e in exc.errors(include_url=False))


class WebhookReceiver:
    def __init__(self, engine: AsyncEngine, intake: Intake, adapters: Mapping[str, PlatformAdapter],
                 clock: Clock, sealer: Callable[[], Sealer], horizon: Horizon = Horizon()) -> None:
        """``sealer``: the installation's, asked for when a store's webhook secret is read."""
        self.engine = engine
        self.sealer = sealer
        self.intake = intake
        self.adapters = adapters
        self.clock = clock
        self.horizon = horizon

    async def target(self, platform: str, slug: str) -> tuple[PlatformAdapter, StoreRow, Connection]:
        adapter = self.adapters.get(platform)
        if adapter is None:
            raise UnknownTarget(f"no platform called {platform!r}; afterorder takes {', '.join(self.adapters)}")
        async with self.engine.connect() as conn:
            store = await get_store(conn, slug)
            try:
                connection = await get_connection(conn, store.id, platform, sealer=self.sealer) if store else None
            except SealError as exc:
                log.error("a %s webhook for store %s cannot be verified: %s", platform, slug, exc)
                raise SecretsLocked(f"the store's {platform} webhook secret cannot be opened: {exc}") from None
        if store is None:
            raise UnknownTarget(f"no store called {slug!r}")
        if connection is None:
            raise NotConfigured(f"store {slug!r} has not connected {platform}: "
                                f"run 'afterorder store connect {slug} {platform} ...' first")
        return adapter, store, connection

    async def receive(self, platform: str, slug: str, headers: Mapping[str, str], body: bytes) -> Receipt:
        adapter, store, connection = await self.target(platform, slug)
        headers = lower_headers(headers)
        if adapter.ping(headers, body):
            return Receipt("ping", reason="webhook saved; deliveries will be verified with the store's secret")
        await adapter.verify(headers, body, connection)
        now = self.clock.now()
        delivery = adapter.parse(headers, body, now)
        memory = StoredMemory(self.engine, store.id, platform)
        try:
            normalized = await adapter.normalize(delivery, memory)
        except WebhookError:
            raise
        except ValidationError as exc:
            raise Malformed(f"{delivery.topic}: the body maps to an invalid event: {_fields(exc)}") from None
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise Malformed(f"{delivery.topic}: the body is not shaped like a {platform} {delivery.topic} "
                               f"payload ({type(exc).__name__}: {exc})") from None
        ahead = [f"{PART['Event']}.{d['field']}: {d['message']}" for event in normalized.events
                 for d in ahead_problems(event, now, self.horizon)]
        if ahead:
            raise Malformed(f"{delivery.topic}: the body maps to an invalid event: {'; '.join(ahead)}")
        accepted: list[Accepted] = []
        if normalized.events:
            accepted = await self.intake.ingest(store, normalized.events, source=platform,
                                                raw=[delivery.payload] * len(normalized.events))
        await remember(self.engine, store.id, platform, normalized.remember, now)
        if not normalized.events:
            reason = normalized.ignored or "nothing to store"
            await record_ignored(self.engine, store.id, platform, delivery.topic, delivery.delivery_id, reason,
                                 delivery.payload, now)
            return Receipt("ignored", delivery.topic, reason=reason)
        return Receipt("stored", delivery.topic, accepted)

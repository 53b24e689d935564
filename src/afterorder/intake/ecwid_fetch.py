"""Fetching what Ecwid webhooks name, after they were answered: the order (or customer) by REST, then intake.

``run_due`` claims recorded deliveries (``db.platform_fetches``), fetches them (up to ``batch`` at
once) from the store's Ecwid API, normalizes each (``intake.ecwid``) and stores the events through
the one intake.  Because a delivery is recorded before its webhook is answered, a crash after the
answer still fetches it (the lease ends, another step claims it); events have ids naming their
facts, so fetching twice stores nothing twice.

A failed fetch (a network error, a 5xx) is retried with backoff (``intake.fetched``: ``RETRY_DELAYS``, then every hour)
and given up after ``MAX_ATTEMPTS``; Ecwid's 429 is a delay of its ``Retry-After``, never counted as
a failure; a 404 (the order was deleted) and 400/401/403 (a wrong token or scope) end the fetch at once
with the reason kept in ``last_error``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.clock import Clock
from afterorder.db.platform_fetches import Fetch, claim_due, finish, retry_later
from afterorder.db.platforms import get_connection
from afterorder.db.stores import get_store_by_id
from afterorder.intake.adapters import Delivery
from afterorder.intake.ecwid import EcwidAdapter
from afterorder.intake.ecwid_api import EcwidApi, EcwidBusy, EcwidFailed, EcwidGone
from afterorder.intake.errors import WebhookError
from afterorder.intake.fetched import FetchEnds
from afterorder.intake.pipeline import Intake
from afterorder.keys.sealing import Sealer, SealError

log = logging.getLogger(__name__)


class EcwidFetcher:
    def __init__(self, engine: AsyncEngine, intake: Intake, clock: Clock, sealer: Callable[[], Sealer],
                 http: httpx.AsyncClient | None = None, *, lease: timedelta = timedelta(seconds=60),
                 batch: int = 20) -> None:
        """``sealer``: the installation's, asked for when a store's token is read."""
        self.engine = engine
        self.sealer = sealer
        self.intake = intake
        self.clock = clock
        self.lease = lease
        self.batch = batch  # fetched at once: well inside the lease, each answer waits at most the 10 s timeout
        self.adapter = EcwidAdapter()
        self.ends = FetchEnds(engine, intake, clock, "ecwid", "Ecwid")
        self._http = http
        self._own_http = http is None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        return self._http

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def run_due(self) -> int:
        """Fetch every due delivery once; how many were claimed (the loop goes again at once when > 0)."""
        claimed = await claim_due(self.engine, "ecwid", self.clock.now(), self.lease, limit=self.batch)
        outcomes = await asyncio.gather(*(self._one(fetch) for fetch in claimed), return_exceptions=True)
        for outcome in outcomes:  # the database went away, say: the rows come back when their lease ends
            if isinstance(outcome, BaseException):
                raise outcome
        return len(claimed)

    async def _one(self, fetch: Fetch) -> None:
        try:
            await self._fetch_and_store(fetch)
        except EcwidBusy as exc:
            await retry_later(self.engine, fetch.id, self.clock.now() + timedelta(seconds=exc.retry_after),
                              exc.message, fetch.attempts)
        except EcwidGone as exc:
            await finish(self.engine, fetch.id, self.clock.now(), failed=exc.message, attempts=fetch.attempts + 1)
        except EcwidFailed as exc:
            await self._failed(fetch, exc.message, temporary=exc.temporary)
        except SealError as exc:  # the configured key cannot open the store's token: a restart with the key fixes it
            await self._failed(fetch, str(exc), temporary=True)
        except WebhookError as exc:  # what Ecwid answered cannot become an event: retrying will not help
            await finish(self.engine, fetch.id, self.clock.now(), failed=exc.message, attempts=fetch.attempts + 1)

    async def _failed(self, fetch: Fetch, message: str, *, temporary: bool) -> None:
        await self.ends.failed(fetch, message, temporary=temporary)

    async def _fetch_and_store(self, fetch: Fetch) -> None:
        async with self.engine.connect() as conn:
            store = await get_store_by_id(conn, fetch.store_id)
            connection = await get_connection(conn, fetch.store_id, "ecwid", sealer=self.sealer)
        if store is None or connection is None or not connection.account_id or not connection.token:
            await finish(self.engine, fetch.id, self.clock.now(), failed="the store is no longer connected to Ecwid")
            return
        api = EcwidApi(self.http, connection.account_id, connection.token, connection.api_url)
        topic = fetch.topic
        entity = await (api.customer(fetch.entity_id) if topic.startswith("customer.") else api.order(fetch.entity_id))
        delivery = Delivery("ecwid", topic, fetch.event_id, {}, b"", {"event": fetch.raw, "entity": entity},
                            fetch.received_at)
        await self.ends.store(store, fetch, self.adapter, delivery, entity, f"an Ecwid {topic}")

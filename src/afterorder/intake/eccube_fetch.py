"""Fetching what EC-CUBE webhooks name, after they were answered: the order (or customer) by GraphQL, then intake.

``run_due`` claims recorded notices (``db.platform_fetches``, platform ``eccube``), fetches each from
the shop's Web API (``intake.eccube_api``, its token kept in one ``TokenCache`` for the process),
normalizes it (``intake.eccube``) and stores the events through the one intake.  Events have ids
naming their facts, so a notice fetched twice, or two notices about one order, store nothing twice.

A failed fetch (a network error, a 5xx) is retried with the same backoff as Ecwid's
(``intake.fetched``) and given up after ``MAX_ATTEMPTS``; an order no longer in the shop
and a refused client or query end the fetch at once with the reason kept in ``last_error``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.clock import Clock
from afterorder.db.platform_fetches import Fetch, claim_due, finish
from afterorder.db.platforms import get_connection
from afterorder.db.stores import get_store_by_id
from afterorder.intake.adapters import Delivery
from afterorder.intake.eccube import EccubeAdapter
from afterorder.intake.eccube_api import EccubeApi, EccubeFailed, EccubeGone, TokenCache
from afterorder.intake.errors import WebhookError
from afterorder.intake.fetched import FetchEnds
from afterorder.intake.pipeline import Intake
from afterorder.keys.sealing import Sealer, SealError

log = logging.getLogger(__name__)


class EccubeFetcher:
    def __init__(self, engine: AsyncEngine, intake: Intake, clock: Clock, sealer: Callable[[], Sealer],
                 http: httpx.AsyncClient | None = None, *, lease: timedelta = timedelta(seconds=60),
                 batch: int = 20) -> None:
        """``sealer``: the installation's, asked for when a store's client secret is read."""
        self.engine = engine
        self.sealer = sealer
        self.intake = intake
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.adapter = EccubeAdapter()
        self.ends = FetchEnds(engine, intake, clock, "eccube", "EC-CUBE")
        self.tokens = TokenCache()
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
        """Fetch every due notice once; how many were claimed (the loop goes again at once when > 0)."""
        claimed = await claim_due(self.engine, "eccube", self.clock.now(), self.lease, limit=self.batch)
        outcomes = await asyncio.gather(*(self._one(fetch) for fetch in claimed), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(claimed)

    async def _one(self, fetch: Fetch) -> None:
        try:
            await self._fetch_and_store(fetch)
        except EccubeGone as exc:
            await finish(self.engine, fetch.id, self.clock.now(), failed=exc.message, attempts=fetch.attempts + 1)
        except EccubeFailed as exc:
            await self._failed(fetch, exc.message, temporary=exc.temporary)
        except SealError as exc:  # the configured key cannot open the client secret: a restart with the key fixes it
            await self._failed(fetch, str(exc), temporary=True)
        except WebhookError as exc:  # what EC-CUBE answered cannot become an event: retrying will not help
            await finish(self.engine, fetch.id, self.clock.now(), failed=exc.message, attempts=fetch.attempts + 1)

    async def _failed(self, fetch: Fetch, message: str, *, temporary: bool) -> None:
        await self.ends.failed(fetch, message, temporary=temporary)

    async def _fetch_and_store(self, fetch: Fetch) -> None:
        async with self.engine.connect() as conn:
            store = await get_store_by_id(conn, fetch.store_id)
            connection = await get_connection(conn, fetch.store_id, "eccube", sealer=self.sealer)
        if store is None or connection is None or not connection.api_url or not connection.account_id \
                or not connection.token:
            await finish(self.engine, fetch.id, self.clock.now(), failed="the store is no longer connected to EC-CUBE")
            return
        api = EccubeApi(self.http, self.clock, self.tokens, connection.api_url, connection.account_id,
                        connection.token)
        topic = fetch.topic
        entity = await (api.customer(fetch.entity_id) if topic.startswith("customer.") else api.order(fetch.entity_id))
        delivery = Delivery("eccube", topic, fetch.event_id, {}, b"", {"notice": fetch.raw, "entity": entity},
                            fetch.received_at)
        await self.ends.store(store, fetch, self.adapter, delivery, entity, f"an EC-CUBE {topic.split('.')[0]}")

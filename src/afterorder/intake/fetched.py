"""How a platform fetch ends, whichever platform (Ecwid, EC-CUBE): what was fetched is stored, or
the fetch is retried with backoff, or given up with its reason.

A platform whose webhooks carry ids only records each delivery (``db.platform_fetches``) and fetches
the order or customer afterwards; its fetcher (``intake.ecwid_fetch``, ``intake.eccube_fetch``) knows
its API, and :class:`FetchEnds` the rest:

* ``store``: the fetched entity through the platform's adapter into the one intake (events have ids
  naming their facts, so fetching twice stores nothing twice); what the adapter remembers is kept;
  an entity that is no event is recorded as ignored; an entity not shaped as the platform's ends the
  fetch with the reason, since asking again would get the same;
* ``failed``: a temporary failure is retried after ``backoff`` (``RETRY_DELAYS``, then every hour)
  up to ``MAX_ATTEMPTS``; anything else, or the last attempt, ends the fetch with the reason kept in
  ``last_error``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.clock import Clock
from afterorder.db.platform_fetches import Fetch, finish, retry_later
from afterorder.db.platforms import StoredMemory, record_ignored, remember
from afterorder.db.stores import StoreRow
from afterorder.intake.adapters import Delivery, PlatformAdapter
from afterorder.intake.errors import WebhookError
from afterorder.intake.pipeline import Intake

log = logging.getLogger(__name__)
RETRY_DELAYS = (10, 30, 120, 600, 1800)  # seconds after the 1st, 2nd, … failure; then every hour
MAX_ATTEMPTS = 12
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)


def backoff(attempts: int) -> timedelta:
    """How long after the ``attempts``-th failure to try again."""
    return timedelta(seconds=RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else 3600)


@dataclass(frozen=True)
class FetchEnds:
    engine: AsyncEngine
    intake: Intake
    clock: Clock
    platform: str  # "ecwid", "eccube": the source of the events and the adapter's memory
    name: str  # "Ecwid", "EC-CUBE": as the reasons name it

    async def store(self, store: StoreRow, fetch: Fetch, adapter: PlatformAdapter, delivery: Delivery, entity: Any,
                    shape: str) -> None:
        """``entity`` (as fetched, inside ``delivery``) stored; ``shape`` names what it should have been
        shaped like, for the reason when it is not (``"an Ecwid order.created"``)."""
        try:
            normalized = await adapter.normalize(delivery, StoredMemory(self.engine, store.id, self.platform))
        except WebhookError:
            raise
        except SHAPE_ERRORS as exc:
            await finish(self.engine, fetch.id, self.clock.now(), attempts=fetch.attempts + 1,
                         failed=f"{fetch.topic}: {self.name}'s answer is not shaped like {shape} "
                                f"({type(exc).__name__}: {exc})")
            return
        if normalized.events:
            await self.intake.ingest(store, normalized.events, source=self.platform,
                                     raw=[entity] * len(normalized.events))
        await remember(self.engine, store.id, self.platform, normalized.remember, self.clock.now())
        if not normalized.events:
            await record_ignored(self.engine, store.id, self.platform, fetch.topic, fetch.event_id,
                                 normalized.ignored or "nothing to store", fetch.raw, self.clock.now())
        await finish(self.engine, fetch.id, self.clock.now(), attempts=fetch.attempts + 1)

    async def failed(self, fetch: Fetch, message: str, *, temporary: bool) -> None:
        """Retried after its backoff when ``temporary`` and attempts are left; else given up."""
        attempts = fetch.attempts + 1
        if not temporary or attempts >= MAX_ATTEMPTS:
            log.warning("%s fetch %s: giving up: %s", self.platform, fetch.event_id, message)
            await finish(self.engine, fetch.id, self.clock.now(), failed=message, attempts=attempts)
            return
        await retry_later(self.engine, fetch.id, self.clock.now() + backoff(attempts), message, attempts)

"""Delivery notes sent on to the store: a webhook per ``order.delivery_note`` event, when the store
set an address for them (``afterorder store set SLUG --delivery-note-webhook URL``, or the dashboard).

* **Queued with the event.**  ``queue_note_webhooks`` is one of the intake's projectors: in the
  transaction that stores the event it writes the webhook (``db.outgoing_webhooks``) under the
  event's id, so a stored note is a queued webhook, whatever is killed when.
* **Posted by the worker.**  ``NoteWebhookSender.run_due`` claims due webhooks with a lease and
  ``POST``\\ s each body, as stored, to the store's address::

      Content-Type: application/json
      X-Afterorder-Topic: order.delivery_note
      Idempotency-Key: delivery-note:42:1:9f2c…        (the same on every attempt)
      X-Afterorder-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the store's webhook key>

  The webhook key is ``webhook_key(signer)`` (of the store's link signer, ``afterorder.keys.signers``),
  printed by ``afterorder store set`` when the address is set; the receiver computes the HMAC of
  the raw body with the key's text (UTF-8) and compares.
* **Retried.**  Any 2xx is done.  A 429 waits its ``Retry-After`` and is not counted; a timeout, a
  refused connection, 408 or a 5xx is retried after ``RETRY_DELAYS`` (then hourly) up to
  ``MAX_ATTEMPTS``; another 4xx (the receiver will not take it) ends it at once; the reason is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, TypedDict

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.clock import Clock
from afterorder.db.events import StoredEvent
from afterorder.db.outgoing_webhooks import OutgoingWebhook, claim_due, finish, queue, retry_later
from afterorder.db.schema import orders
from afterorder.db.store_settings import delivery_note_webhook_of
from afterorder.db.stores import StoreRow, get_store_by_id
from afterorder.domain import EventType
from afterorder.keys.signers import StoreSigners
from afterorder.order_page.delivery_note import SOURCE, NoteJson
from afterorder.signing import Signer

log = logging.getLogger(__name__)
TOPIC: Final = EventType.ORDER_DELIVERY_NOTE.value
KEY_PURPOSE: Final = "outgoing-webhook"
SIGNATURE_HEADER: Final = "X-Afterorder-Signature"
RETRY_DELAYS: Final = (10, 30, 120, 600, 1800)  # seconds after the 1st, 2nd, … failure; then every hour
MAX_ATTEMPTS: Final = 12
TIMEOUT: Final = 10.0


class OrderJson(TypedDict):
    id: str
    number: str


class NoteBody(TypedDict):
    id: str  # the event's id: the idempotency key
    type: str
    store: str
    occurred_at: str
    order: OrderJson
    delivery_note: NoteJson
    revision: int


def webhook_key(signer: Signer) -> str:
    """The key the store's webhooks are signed with (derived from its signing key; not the key itself)."""
    return signer.digest(KEY_PURPOSE, b"").hex()


def signature(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """How long after the ``attempts``-th failure to try again."""
    return timedelta(seconds=RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else 3600)


def note_body(store: StoreRow, stored: StoredEvent, number: str) -> str:
    event = stored.event
    props = event.properties
    assert event.order is not None
    body = NoteBody(
        id=event.id, type=TOPIC, store=store.slug, occurred_at=event.occurred_at.isoformat(),
        order=OrderJson(id=event.order.id, number=number),
        delivery_note=NoteJson(choice=str(props.get("choice", "")), window=str(props.get("window", "")),
                               text=str(props.get("text", ""))),
        revision=int(props.get("revision") or 0))
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def queue_note_webhooks(conn: AsyncConnection, store: StoreRow, stored: Sequence[StoredEvent],
                              now: datetime) -> None:
    """The intake's projector: queue a webhook for each delivery note stored from the order page, when the
    store has an address."""
    notes = [s for s in stored if s.event.type is EventType.ORDER_DELIVERY_NOTE and s.event.order is not None
             and s.source == SOURCE]  # the store's own notes (through its API) are not sent back to it
    if not notes:
        return
    url = await delivery_note_webhook_of(conn, store.id)
    if url is None:
        return
    for s in notes:
        number = (await conn.execute(select(orders.c.number).where(
            orders.c.store_id == store.id, orders.c.id == s.order_id))).scalar() if s.order_id is not None else None
        assert s.event.order is not None
        await queue(conn, store.id, s.event.id, TOPIC, url, note_body(store, s, number or s.event.order.id), now)


class NoteWebhookSender:
    """Posts the due webhooks; ``http`` is injected in tests (else made on first use)."""

    def __init__(self, engine: AsyncEngine, clock: Clock, signers: StoreSigners, http: httpx.AsyncClient | None = None,
                 *, lease: timedelta = timedelta(seconds=60), batch: int = 20) -> None:
        self.engine = engine
        self.signers = signers
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self._http = http
        self._own_http = http is None
        self._keys: dict[int, str] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        return self._http

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def run_due(self) -> int:
        """Post every due webhook once; how many were claimed (the loop goes again at once when > 0)."""
        claimed = await claim_due(self.engine, self.clock.now(), self.lease, limit=self.batch)
        outcomes = await asyncio.gather(*(self._one(w) for w in claimed), return_exceptions=True)
        for outcome in outcomes:  # the database went away: the rows come back when their lease ends
            if isinstance(outcome, BaseException):
                raise outcome
        return len(claimed)

    async def _key(self, store_id: int) -> str | None:
        if store_id not in self._keys:
            async with self.engine.connect() as conn:
                store = await get_store_by_id(conn, store_id)
            if store is None:
                return None
            self._keys[store_id] = webhook_key(self.signers.of(store))
        return self._keys[store_id]

    async def _one(self, webhook: OutgoingWebhook) -> None:
        key = await self._key(webhook.store_id)
        attempts = webhook.attempts + 1
        if key is None:
            await finish(self.engine, webhook.id, self.clock.now(), attempts=attempts, code=None,
                         failed="the store no longer exists")
            return
        body = webhook.body.encode()
        headers = {"Content-Type": "application/json", "X-Afterorder-Topic": webhook.topic,
                   "Idempotency-Key": webhook.idempotency_key, SIGNATURE_HEADER: signature(key, body),
                   "User-Agent": "afterorder-webhooks"}
        try:
            answer = await self.http.post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            await self._failed(webhook, attempts, None, f"{type(exc).__name__}: {exc}".strip(), temporary=True)
            return
        code = answer.status_code
        if 200 <= code < 300:
            await finish(self.engine, webhook.id, self.clock.now(), attempts=attempts, code=code)
        elif code == 429:
            wait = _retry_after(answer.headers.get("retry-after")) or backoff(1).total_seconds()
            await retry_later(self.engine, webhook.id, self.clock.now() + timedelta(seconds=wait),
                              f"429: the receiver is busy; waiting {wait:g} s", attempts=webhook.attempts, code=code)
        else:
            await self._failed(webhook, attempts, code, f"{code}: {answer.text[:200]}",
                               temporary=code == 408 or code >= 500)

    async def _failed(self, webhook: OutgoingWebhook, attempts: int, code: int | None, why: str, *,
                      temporary: bool) -> None:
        if not temporary or attempts >= MAX_ATTEMPTS:
            log.warning("webhook %s to %s: giving up: %s", webhook.idempotency_key, webhook.url, why)
            await finish(self.engine, webhook.id, self.clock.now(), attempts=attempts, code=code, failed=why)
            return
        await retry_later(self.engine, webhook.id, self.clock.now() + backoff(attempts), why, attempts=attempts,
                          code=code)


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), 3600.0)

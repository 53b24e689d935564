"""Receiving an EC-CUBE webhook: verify, record each notice to fetch, answer — the fetch comes after.

The plugin waits at most 5 s and never retries, so a delivery is verified (``X-ECCUBE-Signature``,
hex HMAC-SHA256 of the raw body with the store's webhook secret) and its notices recorded
(``db.platform_fetches``) before the answer; ``intake.eccube_fetch`` fetches them afterwards.  The
body carries no event id: a notice about an order (or customer) that is already waiting to be
fetched is a ``duplicate`` (the one fetch reads the latest state), any other is recorded with an id
made of the notice, a digest of the body and the time it came.  Notices about products and
``deleted`` actions are recorded as ignored.  The answer says what happened to each notice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from afterorder.db.platform_fetches import record, waiting
from afterorder.db.platforms import record_ignored
from afterorder.intake.adapters import lower_headers
from afterorder.intake.eccube import TOPICS, URL_HEADER, EccubeAdapter, Notice, notices
from afterorder.intake.webhooks import Receipt, WebhookReceiver


async def receive_eccube(receiver: WebhookReceiver, slug: str, headers: Mapping[str, str], body: bytes,
                         wake: Callable[[], None] | None = None) -> tuple[Receipt, list[dict[str, str]]]:
    """The delivery's receipt (``queued`` when any notice is to be fetched, else ``duplicate`` or ``ignored``)
    and each notice with its own status; ``wake`` tells the fetch loop there is work.  ``WebhookError``
    for what is refused (nothing is recorded then)."""
    adapter, store, connection = await receiver.target("eccube", slug)
    assert isinstance(adapter, EccubeAdapter)
    headers = lower_headers(headers)
    await adapter.verify(headers, body, connection)
    listed = notices(body)
    now = receiver.clock.now()
    digest = hashlib.sha256(body).hexdigest()[:16]
    shop = headers.get(URL_HEADER, "")[:1000] or None
    answers = []
    for n, notice in enumerate(listed):
        delivery_id = f"{notice.topic}:{notice.id}:{digest}:{n}:{now.isoformat()}"
        answers.append({**notice.as_json(), "status": await _one(receiver, store.id, notice, delivery_id, shop)})
    statuses = {a["status"] for a in answers}
    status = next((s for s in ("queued", "duplicate", "ignored") if s in statuses), "ignored")
    if status == "queued" and wake is not None:
        wake()
    topic = listed[0].topic if len(listed) == 1 else "webhook"
    return Receipt(status, topic, reason=f"{len(listed)} notice{'s' if len(listed) != 1 else ''}"), answers


async def _one(receiver: WebhookReceiver, store_id: int, notice: Notice, delivery_id: str, shop: str | None
               ) -> str:
    engine = receiver.engine
    raw = {**notice.as_json(), "shop_url": shop}
    if TOPICS.get(notice.topic) is None:
        await record_ignored(engine, store_id, "eccube", notice.topic, delivery_id,
                             f"topic {notice.topic!r} is not one afterorder uses", raw, receiver.clock.now())
        return "ignored"
    if await waiting(engine, store_id, "eccube", notice.topic, notice.id, receiver.clock.now()):
        return "duplicate"
    new = await record(engine, store_id, "eccube", delivery_id, notice.topic, notice.id, raw, receiver.clock.now())
    return "queued" if new else "duplicate"  # the same bytes at the same instant

"""Receiving an Ecwid webhook: verify, check the Ecwid store, record it, answer — the fetch comes after.

Ecwid's webhooks carry ids only and Ecwid wants a fast 200, so a delivery is verified
(``X-Ecwid-Webhook-Signature``), checked to be about the Ecwid store this afterorder store connected
(another store's ``storeId`` is refused 404: the client secret is the app's, shared by every Ecwid
store that installed it), and recorded once per ``eventId`` (``db.platform_fetches``) before the
answer.  ``intake.ecwid_fetch`` fetches it afterwards.  A replayed ``eventId`` is answered 200
``duplicate`` and fetched no second time; a topic with nothing to fetch is recorded as ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from afterorder.db.platform_fetches import record
from afterorder.db.platforms import record_ignored
from afterorder.intake.adapters import lower_headers
from afterorder.intake.ecwid import EcwidAdapter
from afterorder.intake.webhooks import Receipt, WebhookReceiver


async def receive_ecwid(receiver: WebhookReceiver, slug: str, headers: Mapping[str, str], body: bytes,
                        wake: Callable[[], None] | None = None) -> Receipt:
    """Record one Ecwid delivery to fetch (``queued``), or say it is a ``duplicate`` or ``ignored``;
    ``wake`` tells the fetch loop there is work.  ``WebhookError`` for what is refused."""
    adapter, store, connection = await receiver.target("ecwid", slug)
    assert isinstance(adapter, EcwidAdapter)
    headers = lower_headers(headers)
    await adapter.verify(headers, body, connection)
    now = receiver.clock.now()
    delivery = adapter.parse(headers, body, now)
    adapter.check_store(delivery, connection)
    entity = adapter.entity(delivery)
    if entity is None:
        reason = f"topic {delivery.topic!r} is not one afterorder uses"
        await record_ignored(receiver.engine, store.id, "ecwid", delivery.topic, delivery.delivery_id, reason,
                             delivery.payload, now)
        return Receipt("ignored", delivery.topic, reason=reason)
    new = await record(receiver.engine, store.id, "ecwid", delivery.delivery_id, delivery.topic, entity,
                       delivery.payload, now)
    if not new:
        return Receipt("duplicate", delivery.topic, reason=f"event {delivery.delivery_id} was received before")
    if wake is not None:
        wake()
    return Receipt("queued", delivery.topic, reason=f"{entity} will be fetched from Ecwid")

"""One pipeline for every provider: find the store and its credentials, let the provider's adapter
verify and read the request, match each bounce to the message it is about (by Message-ID), and
store them as ``message.bounced`` / ``message.complained`` events through the intake (source
``esp:<provider>``, the provider's record kept as the raw payload).  Storing a hard bounce or a
complaint suppresses the address in the same transaction; soft bounces are recorded only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from afterorder.db.stores import StoreRow, get_store
from afterorder.domain import Event, MessageRef
from afterorder.esp import mailgun, postmark, sendgrid
from afterorder.esp.base import Bounce, NotConfigured, WebhookRequest
from afterorder.esp.credentials import PROVIDERS, get_credentials
from afterorder.esp.ses import SnsVerifier
from afterorder.intake.pipeline import Intake
from afterorder.tracking.engagement import find_message
from afterorder.tracking.projection import ESP_SOURCE_PREFIX

_SYNC = {"sendgrid": sendgrid.parse, "postmark": postmark.parse, "mailgun": mailgun.parse}


@dataclass(frozen=True)
class Received:
    stored: int
    duplicates: int
    ignored: bool = False
    subscription_confirmed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "duplicates": self.duplicates,
                "subscription_confirmed": self.subscription_confirmed}


@dataclass
class EspReceiver:
    engine: AsyncEngine
    intake: Intake
    sns: SnsVerifier = field(default_factory=SnsVerifier)

    async def receive(self, provider: str, store_slug: str, request: WebhookRequest) -> Received:
        if provider not in PROVIDERS:
            raise NotConfigured(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
        async with self.engine.connect() as conn:
            store = await get_store(conn, store_slug)
            settings = await get_credentials(conn, store.id, provider) if store else None
        if store is None or settings is None:
            raise NotConfigured(f"no {provider} webhook is set up for store {store_slug!r}; "
                                f"run `afterorder store esp {store_slug} {provider} ...`")
        confirmed = False
        if provider == "ses":
            bounces, confirmed = await self.sns.parse(request, settings)
        else:
            bounces = _SYNC[provider](request, settings)
        events = [await self._event(store, b) for b in bounces]
        if not events:
            return Received(0, 0, ignored=not confirmed, subscription_confirmed=confirmed)
        accepted = await self.intake.ingest(store, events, source=ESP_SOURCE_PREFIX + provider,
                                            raw=[b.raw for b in bounces])
        stored = sum(a.status == "stored" for a in accepted)
        return Received(stored, len(accepted) - stored)

    async def _event(self, store: StoreRow, bounce: Bounce) -> Event:
        ref = None
        if bounce.message_id:
            async with self.engine.connect() as conn:
                sent = await find_message(conn, store.id, message_ids=[bounce.message_id])
            if sent is not None:
                ref = MessageRef(outbox_id=sent.outbox_id, flow_id=sent.flow_id, step=sent.step,
                                 template=sent.template)
        # the event id names the provider's event and (hashed) the recipient, never the address itself
        who = hashlib.sha256(bounce.recipient.strip().lower().encode()).hexdigest()[:16]
        return Event(id=f"{bounce.provider}:{bounce.type.value}:{bounce.provider_event_id}:{who}"[:255],
                     type=bounce.type, occurred_at=bounce.occurred_at, message=ref, properties={
                         "provider": bounce.provider, "recipient": bounce.recipient, "bounce": bounce.bounce_kind,
                         "description": bounce.description[:1000], "message_id": bounce.message_id})

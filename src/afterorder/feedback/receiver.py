"""One pipeline for what every provider reports back: find the store and its credentials, let the
provider's adapter verify and read the request, then

* store each bounce, complaint or unsubscribe as a ``message.bounced`` / ``message.complained`` /
  ``message.unsubscribed`` event through the intake (source ``esp:<provider>``, the provider's
  record kept as the raw payload), matched to the message it is about; storing a hard bounce or a
  complaint suppresses the address (or phone number) in the same transaction, soft bounces are
  recorded only;
* put each delivery status on its message (``feedback/status.py``).

:class:`EspReceiver` does this for the email providers' event webhooks (SES through SNS, SendGrid,
Postmark, Mailgun), whose credentials are set with ``afterorder store esp``.  The LINE, Twilio and
Alibaba Cloud receivers (``feedback/line.py``, ``twilio.py``, ``aliyun_sms.py``) share
:func:`store_feedback` and :func:`provider_setups`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterorder.channels.setup import ProviderSetup, load_setups
from afterorder.db.stores import StoreRow, get_store
from afterorder.domain import Event, MessageRef
from afterorder.feedback import mailgun, postmark, sendgrid
from afterorder.feedback.base import Bounce, Feedback, WebhookRequest
from afterorder.feedback.credentials import PROVIDERS, get_credentials
from afterorder.feedback.ses import SnsVerifier
from afterorder.feedback.status import Recorded, find_outbox, record_statuses
from afterorder.intake.errors import NotConfigured, SecretsLocked, UnknownTarget
from afterorder.intake.pipeline import Intake
from afterorder.keys.sealing import Sealer, SealError
from afterorder.tracking.engagement import find_message
from afterorder.tracking.projection import ESP_SOURCE_PREFIX

_SYNC = {"sendgrid": sendgrid.parse, "postmark": postmark.parse, "mailgun": mailgun.parse}
SealerOf = Callable[[], Sealer]  # the installation's sealer, asked for when a store's secrets are first needed


@dataclass(frozen=True)
class Received:
    stored: int
    duplicates: int
    ignored: bool = False
    subscription_confirmed: bool = False
    statuses: Recorded = field(default_factory=Recorded)

    def as_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "duplicates": self.duplicates,
                "subscription_confirmed": self.subscription_confirmed, "statuses_updated": self.statuses.updated}


async def store_feedback(engine: AsyncEngine, intake: Intake, store: StoreRow, provider: str,
                         feedback: Feedback) -> Received:
    """Store the bounces as events and put the statuses on their messages."""
    statuses = Recorded()
    if feedback.statuses:
        async with engine.begin() as conn:
            statuses = await record_statuses(conn, store.id, feedback.statuses)
    if not feedback.bounces:
        return Received(0, 0, ignored=not feedback.statuses, statuses=statuses)
    async with engine.connect() as conn:
        events = [await bounce_event(conn, store, b) for b in feedback.bounces]
    accepted = await intake.ingest(store, events, source=ESP_SOURCE_PREFIX + provider,
                                   raw=[b.raw for b in feedback.bounces])
    stored = sum(a.status == "stored" for a in accepted)
    return Received(stored, len(accepted) - stored, statuses=statuses)


async def bounce_event(conn: AsyncConnection, store: StoreRow, bounce: Bounce) -> Event:
    ref = None
    found = await find_outbox(conn, store.id, provider_message_id=bounce.provider_message_id,
                              message_id=bounce.message_id)
    sent = await find_message(conn, store.id, message_ids=[found.message_id]) if found else None
    if sent is not None:
        ref = MessageRef(outbox_id=sent.outbox_id, flow_id=sent.flow_id, step=sent.step, template=sent.template)
    # the event id names the provider's event and (hashed) the recipient, never the address itself
    who = hashlib.sha256(bounce.recipient.strip().lower().encode()).hexdigest()[:16]
    return Event(id=f"{bounce.provider}:{bounce.type.value}:{bounce.provider_event_id}:{who}"[:255],
                 type=bounce.type, occurred_at=bounce.occurred_at, message=ref, properties={
                     "provider": bounce.provider, "recipient": bounce.recipient, "bounce": bounce.bounce_kind,
                     "description": bounce.description[:1000], "message_id": bounce.message_id})


async def find_store(engine: AsyncEngine, slug: str) -> StoreRow:
    async with engine.connect() as conn:
        store = await get_store(conn, slug)
    if store is None:
        raise UnknownTarget(f"no store called {slug!r}")
    return store


async def provider_setups(engine: AsyncEngine, sealer: SealerOf, store: StoreRow, provider: str,
                          needs: str) -> list[ProviderSetup]:
    """The store's channel setups of ``provider`` whose secrets hold ``needs`` (e.g. LINE's
    ``channel_secret``); ``NotConfigured`` naming the command when there is none, or saying why the
    stored secrets cannot be opened."""
    try:
        opener = sealer()
    except SealError as exc:
        raise NotConfigured(f"store {store.slug!r}'s {provider} credentials cannot be opened: {exc}") from None
    async with engine.connect() as conn:
        setups = [s for s in await load_setups(conn, opener, [store.id]) if s.provider == provider]
    usable = [s for s in setups if s.secrets.get(needs)]
    if usable:
        return usable
    problem = next((s.problem for s in setups if s.problem), None)
    raise NotConfigured(problem or f"store {store.slug!r} has no {provider} channel with {needs}: "
                                   f"run `afterorder channels set {store.slug} {provider} ...`")


@dataclass
class EspReceiver:
    engine: AsyncEngine
    intake: Intake
    sns: SnsVerifier = field(default_factory=SnsVerifier)
    sealer: SealerOf | None = None  # opens a sealed signing key (none: only plain ones can be read)

    async def receive(self, provider: str, store_slug: str, request: WebhookRequest) -> Received:
        if provider not in PROVIDERS:
            raise UnknownTarget(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
        store = await find_store(self.engine, store_slug)
        async with self.engine.connect() as conn:
            try:
                settings = await get_credentials(conn, store.id, provider, sealer=self.sealer)
            except SealError as exc:
                raise SecretsLocked(f"store {store_slug!r}'s {provider} webhook key cannot be opened: {exc}") from None
        if settings is None:
            raise NotConfigured(f"no {provider} webhook is set up for store {store_slug!r}; "
                                f"run `afterorder store esp {store_slug} {provider} ...`")
        confirmed = False
        if provider == "ses":
            feedback, confirmed = await self.sns.parse(request, settings)
        else:
            feedback = _SYNC[provider](request, settings)
        received = await store_feedback(self.engine, self.intake, store, provider, feedback)
        if confirmed:
            return Received(0, 0, subscription_confirmed=True)
        return received

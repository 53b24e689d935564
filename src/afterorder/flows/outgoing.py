"""A send decision becomes an outbox message: pick the channel and the locale (``prepare``), then
render and build the exact payload (``compose``, which may run in another process:
``flows.composers``): the MIME bytes of an email, the LINE request's messages, an SMS's text and
parameters.  A LINE message that may go by email instead (``flows.channel_choice``) gets its email
rendering too, kept beside it in the outbox under ``<key>#email``.  The shipping mails of a store
with AMP on carry an AMP for Email part too (``order_page.amp_mail``).

Pure apart from reading templates: the scheduler writes the messages (``delivery.outbox``) in its
own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from afterorder.channels.base import ChannelKind
from afterorder.channels.email.mime import build_email, message_id_for
from afterorder.compliance.message import MessageCompliance, Planner
from afterorder.content import Renderer, resolve_locale
from afterorder.content.snapshots import customer_snapshot, order_snapshot
from afterorder.db.stores import StoreRow
from afterorder.delivery.outbox import SKIPPED, OutboxMessage
from afterorder.domain import CustomerSnapshot, OrderSnapshot, StoreSnapshot
from afterorder.feedback.line_link import line_link_url
from afterorder.flows.channel_choice import EMAIL_ONLY, Choice, StoreReach, candidates, choose, invite_to_line
from afterorder.flows.engine import SendDecision
from afterorder.order_page.amp_mail import amp_part
from afterorder.order_page.links import order_url
from afterorder.signing import Signer
from afterorder.tracking.links import LinkContext, instrument, instrument_line, instrument_sms
from afterorder.tracking.settings import TrackingSettings

NO_EMAIL = "customer has no email address"


@dataclass(frozen=True)
class Chosen:
    """The A/B test variant a message goes out as: the template it renders and its subjects by locale."""

    test_id: int
    key: str
    template: str
    subject: Mapping[str, str]


def idempotency_key(run_id: int, step: int) -> str:
    return f"run:{run_id}:step:{step}"


@dataclass(frozen=True)
class ComposeJob:
    """Everything one message's bytes are made from: pure data, so it can be composed in another process."""

    template: str
    locale: str
    store: StoreSnapshot
    customer: CustomerSnapshot | None
    order: OrderSnapshot | None
    compliance: MessageCompliance | None
    extra: dict[str, object] | None
    subject: str | None  # an A/B test's subject variant, else the message's own
    links: LinkContext | None  # with tracking: links become signed click links and an open pixel is added
    to: str
    message_id: str
    category: str
    date: datetime
    headers: dict[str, str]
    channel: ChannelKind = ChannelKind.EMAIL
    fallback_to: str | None = None  # a LINE message's email address: its email rendering is made too
    amp: bool = True  # the store's AMP for Email setting: the shipping mails carry a live status part


@dataclass(frozen=True)
class Composed:
    subject: str  # the email's subject; a LINE message's altText; an SMS's text
    data: str  # the payload as sent: the MIME text (CRLF lines), LINE's {"messages"} JSON, the SMS JSON
    fallback: str | None = None  # the email rendering of a LINE message that may go by email instead


@dataclass(frozen=True)
class Outgoing:
    """An outbox message before it is composed; ``job`` is None for a message with nothing to send."""

    message: OutboxMessage
    job: ComposeJob | None

    def filled(self, composed: Composed) -> OutboxMessage:
        return replace(self.message, subject=composed.subject[:500], data=composed.data, fallback=composed.fallback)

    def failed(self, reason: str) -> OutboxMessage:
        """A message that could not be composed: kept as failed, with the reason, never sent."""
        return replace(self.message, subject="", data="", fallback=None, status="failed", last_error=reason)


def compose(renderer: Renderer, job: ComposeJob) -> Composed:
    """Render, instrument and build the exact payload of one message (pure apart from reading templates)."""
    if job.channel is ChannelKind.LINE:
        line = renderer.render_line(job.template, job.locale, **_data(job))
        if job.links is not None:
            line = instrument_line(line, job.links)
        fallback = (_email(renderer, replace(job, channel=ChannelKind.EMAIL, to=job.fallback_to)).data
                    if job.fallback_to else None)
        return Composed(line.alt_text, line.payload(), fallback)
    if job.channel is ChannelKind.SMS:
        sms = renderer.render_sms(job.template, job.locale, **_data(job))
        if job.links is not None:
            sms = instrument_sms(sms, job.links)
        return Composed(sms.text, sms.payload())
    return _email(renderer, job)


def _data(job: ComposeJob) -> dict[str, Any]:
    return {"store": job.store, "customer": job.customer, "order": job.order,
            "shipment": job.order.shipment if job.order else None, "compliance": job.compliance, "extra": job.extra}


def _email(renderer: Renderer, job: ComposeJob) -> Composed:
    rendered = renderer.render(job.template, job.locale, **_data(job), subject=job.subject)
    if job.links is not None:
        rendered = instrument(rendered, job.links)
    amp = amp_part(job.template, job.locale, enabled=job.amp, store=job.store, customer=job.customer,
                   order=job.order, order_url=(job.extra or {}).get("order_url"))
    if amp is not None:
        rendered = replace(rendered, amp=amp)
    data = build_email(job.store, to=job.to, rendered=rendered, message_id=job.message_id,
                       category=job.category, date=job.date, extra_headers=job.headers)
    return Composed(subject=rendered.subject, data=data.decode("utf-8"))


def prepare(
    renderer: Renderer, store: StoreRow, snapshot: StoreSnapshot, run: Any, send: SendDecision,
    customer: dict[str, Any] | None, order: dict[str, Any] | None, now: datetime,
    locales: dict[str, list[str]] | None = None, tracking: TrackingSettings | None = None,
    planner: Planner | None = None, *, extra: Callable[[str], dict[str, object]] | None = None,
    variant: Chosen | None = None, reach: StoreReach = EMAIL_ONLY, sms_consent: bool = False, signer: Signer,
) -> Outgoing:
    """The outbox message for ``send`` and the job that composes it; or a skipped message (no job)
    when the customer cannot be reached on any of the step's channels (``reach``: the store's).
    ``signer`` signs the store's links (its key opened once: ``afterorder.keys.signers``).

    ``locales`` caches, for
    the length of a batch, which locales each template is written in.  With ``tracking``, links
    become signed click links with UTM parameters and an open pixel is added.  ``planner`` (consent
    and the store's compliance settings) decides promotions, the legal footer and the unsubscribe
    headers; without it the message carries no promotions.  ``extra(locale)`` is the template's context
    beyond store / customer / order: the trigger event, a coupon, recommendations
    (``afterorder.flows.extras``) and the flow library's (``flows.followups``)."""
    key = idempotency_key(run["id"], send.step)
    message_id = message_id_for(snapshot, key)
    template = variant.template if variant else send.template
    choice = choose(send.channels, send.category, template, customer, reach, sms_consent=sms_consent,
                    has_variant=_variants(renderer, template, reach))
    message = OutboxMessage(
        store_id=store.id, run_id=run["id"], idempotency_key=key, message_id=message_id,
        channel=choice.channel if isinstance(choice, Choice) else _order(send, reach)[0],
        category=send.category, template=send.template, customer_id=run["customer_id"], order_id=run["order_id"],
        envelope_from=store.email_from, next_attempt_at=now, created_at=now, locale=store.locale, recipient="",
        ab_test_id=variant.test_id if variant else None, variant=variant.key if variant else None,
        fallback_to=choice.fallback_to if isinstance(choice, Choice) else None)
    if not isinstance(choice, Choice):
        reason = NO_EMAIL if message.channel is ChannelKind.EMAIL and len(_order(send, reach)) == 1 else choice
        return Outgoing(replace(message, status=SKIPPED, last_error=reason), None)
    known = locales if locales is not None else {}
    written = template if choice.channel is ChannelKind.EMAIL else f"{template}.{choice.channel.value}"
    if written not in known:
        known[written] = renderer.locales_for(template, choice.channel)
    locale = resolve_locale((customer or {}).get("locale"), known[written], store.locale)
    rules, headers = planner.plan(store, signer, snapshot.base_url, customer_id=run["customer_id"], run_id=run["id"],
                                  step=send.step, category=send.category, locale=locale) if planner else (None, {})
    links = LinkContext(signer, store.id, key, snapshot.base_url, run["flow_id"], send.template,
                        tracking) if tracking is not None else None
    context = extra(locale) if extra else None
    if run["order_id"] is not None and order is not None:
        page = order_url(snapshot.base_url, store.slug, signer, run["order_id"],
                         int(order.get("page_version") or 0), now)
        context = {**(context or {}), "order_url": page}
    if run["customer_id"] is not None and invite_to_line(choice, send.category, customer, reach):
        url = line_link_url(snapshot.base_url, store.slug, signer, run["customer_id"])
        context = {**(context or {}), "line_link": url}
    job = ComposeJob(template=template, locale=locale, store=snapshot, customer=customer_snapshot(customer),
                     order=order_snapshot(order), compliance=rules, extra=context,
                     subject=variant.subject.get(locale) if variant else None, links=links, to=choice.recipient,
                     message_id=message_id, category=send.category, date=now, headers=headers, channel=choice.channel,
                     fallback_to=choice.fallback_to, amp=reach.amp_email)
    return Outgoing(replace(message, locale=locale, recipient=choice.recipient), job)


def _order(send: SendDecision, reach: StoreReach) -> tuple[ChannelKind, ...]:
    return candidates(send.channels, send.category, reach)


def _variants(renderer: Renderer, template: str, reach: StoreReach) -> dict[ChannelKind, bool] | None:
    """Which of the store's other channels the template is written for (None: the store has email only)."""
    if reach.configured == EMAIL_ONLY.configured:
        return None
    written = renderer.channels_of(template)
    return {channel: channel in written for channel in reach.configured}


"""A send decision becomes an outbox row: pick the locale (``prepare``), then render and build the
exact bytes (``compose``, which may run in another process: ``flows.composers``).

Pure apart from reading templates: the scheduler writes the rows in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from afterorder.compliance.message import MessageCompliance, Planner
from afterorder.content import Renderer, resolve_locale
from afterorder.db.stores import StoreRow
from afterorder.domain import CustomerSnapshot, OrderSnapshot, StoreSnapshot
from afterorder.flows.engine import SendDecision
from afterorder.mime import build_email, message_id_for
from afterorder.snapshots import customer_snapshot, order_snapshot
from afterorder.tracking.links import LinkContext, instrument
from afterorder.tracking.settings import TrackingSettings

NO_EMAIL = "customer has no email address"
# the outbox row's keys ("data" holds the message bytes)
COLUMNS = ("store_id", "run_id", "idempotency_key", "message_id", "channel", "category", "template", "customer_id",
           "order_id", "envelope_from", "attempts", "next_attempt_at", "created_at", "locale", "recipient", "subject",
           "status", "last_error", "ab_test_id", "variant")
BODY_COLUMNS = ("store_id", "idempotency_key", "data")


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


@dataclass(frozen=True)
class Composed:
    subject: str
    data: str  # the message as sent (CRLF lines, 7-bit apart from UTF-8 addresses)


@dataclass(frozen=True)
class Outgoing:
    """An outbox row before its message is composed; ``job`` is None for a row with nothing to send."""

    row: dict[str, Any]
    job: ComposeJob | None

    def filled(self, composed: Composed) -> dict[str, Any]:
        self.row.update(subject=composed.subject, data=composed.data)
        return self.row


def compose(renderer: Renderer, job: ComposeJob) -> Composed:
    """Render, instrument and build the exact bytes of one message (pure apart from reading templates)."""
    rendered = renderer.render(
        job.template, job.locale, store=job.store, customer=job.customer, order=job.order,
        shipment=job.order.shipment if job.order else None, compliance=job.compliance,
        extra=job.extra, subject=job.subject,
    )
    if job.links is not None:
        rendered = instrument(rendered, job.links)
    data = build_email(job.store, to=job.to, rendered=rendered, message_id=job.message_id,
                       category=job.category, date=job.date, extra_headers=job.headers)
    return Composed(subject=rendered.subject, data=data.decode("utf-8"))


def prepare(
    renderer: Renderer, store: StoreRow, snapshot: StoreSnapshot, run: Any, send: SendDecision,
    customer: dict[str, Any] | None, order: dict[str, Any] | None, now: datetime,
    locales: dict[str, list[str]] | None = None, tracking: TrackingSettings | None = None,
    planner: Planner | None = None, *, extra: Callable[[str], dict[str, object]] | None = None,
    variant: Chosen | None = None,
) -> Outgoing:
    """The outbox row for ``send`` and the job that composes its message; or a skipped row (no job)
    when there is no address.

    Every row has the same keys, so a batch of them is one executemany.  ``locales`` caches, for
    the length of a batch, which locales each template is written in.  With ``tracking``, links
    become signed click links with UTM parameters and an open pixel is added.  ``planner`` (consent
    and the store's compliance settings) decides promotions, the legal footer and the unsubscribe
    headers; without it the message carries no promotions.  ``extra(locale)`` is the template's context
    beyond store / customer / order: the trigger event, a coupon, recommendations
    (``afterorder.promotions.extras``) and the flow library's (``flows.followups``)."""
    key = idempotency_key(run["id"], send.step)
    message_id = message_id_for(snapshot, key)
    recipient = (customer or {}).get("email")
    row: dict[str, Any] = {
        "store_id": store.id, "run_id": run["id"], "idempotency_key": key, "message_id": message_id,
        "channel": "email", "category": send.category, "template": send.template,
        "customer_id": run["customer_id"], "order_id": run["order_id"],
        "envelope_from": store.email_from, "attempts": 0, "next_attempt_at": now, "created_at": now,
        "ab_test_id": variant.test_id if variant else None, "variant": variant.key if variant else None,
    }
    if not recipient:
        row.update(locale=store.locale, recipient="", subject="", data="", status="skipped", last_error=NO_EMAIL)
        return Outgoing(row, None)
    template = variant.template if variant else send.template
    known = locales if locales is not None else {}
    if template not in known:
        known[template] = renderer.locales_for(template)
    locale = resolve_locale((customer or {}).get("locale"), known[template], store.locale)
    rules, headers = planner.plan(store, snapshot.base_url, customer_id=run["customer_id"], run_id=run["id"],
                                  step=send.step, category=send.category, locale=locale) if planner else (None, {})
    links = LinkContext(store.signer(), store.id, key, snapshot.base_url, run["flow_id"], send.template,
                        tracking) if tracking is not None else None
    job = ComposeJob(template=template, locale=locale, store=snapshot, customer=customer_snapshot(customer),
                     order=order_snapshot(order), compliance=rules, extra=extra(locale) if extra else None,
                     subject=variant.subject.get(locale) if variant else None, links=links, to=recipient,
                     message_id=message_id, category=send.category, date=now, headers=headers)
    row.update(locale=locale, recipient=recipient, subject="", data="", status="queued", last_error=None)
    return Outgoing(row, job)


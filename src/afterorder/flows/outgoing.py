"""A send decision becomes an outbox row: pick the locale, render, build the exact bytes.

Pure apart from reading templates: the scheduler writes the rows in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from afterorder.compliance.message import Planner
from afterorder.content import Renderer, resolve_locale
from afterorder.db.stores import StoreRow
from afterorder.domain import StoreSnapshot
from afterorder.flows.engine import SendDecision
from afterorder.mime import build_email, message_id_for
from afterorder.snapshots import customer_snapshot, order_snapshot
from afterorder.tracking.links import LinkContext, instrument
from afterorder.tracking.settings import TrackingSettings

NO_EMAIL = "customer has no email address"
# the outbox row's keys; ``outbox_row`` adds "data" (the message bytes)
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


def outbox_row(
    renderer: Renderer, store: StoreRow, snapshot: StoreSnapshot, run: Any, send: SendDecision,
    customer: dict[str, Any] | None, order: dict[str, Any] | None, now: datetime,
    locales: dict[str, list[str]] | None = None, tracking: TrackingSettings | None = None,
    planner: Planner | None = None, *, extra: Callable[[str], dict[str, object]] | None = None,
    variant: Chosen | None = None,
) -> dict[str, Any]:
    """The outbox row for ``send``: queued with its rendered bytes, or skipped when there is no address.

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
        "channel": send.channel, "category": send.category, "template": send.template,
        "customer_id": run["customer_id"], "order_id": run["order_id"],
        "envelope_from": store.email_from, "attempts": 0, "next_attempt_at": now, "created_at": now,
        "ab_test_id": variant.test_id if variant else None, "variant": variant.key if variant else None,
    }
    if not recipient:
        row.update(locale=store.locale, recipient="", subject="", data="", status="skipped", last_error=NO_EMAIL)
        return row
    template = variant.template if variant else send.template
    known = locales if locales is not None else {}
    if template not in known:
        known[template] = renderer.locales_for(template)
    locale = resolve_locale((customer or {}).get("locale"), known[template], store.locale)
    order_snap = order_snapshot(order)
    rules, headers = planner.plan(store, snapshot.base_url, customer_id=run["customer_id"], run_id=run["id"],
                                  step=send.step, category=send.category, locale=locale) if planner else (None, {})
    rendered = renderer.render(
        template, locale, store=snapshot, customer=customer_snapshot(customer), order=order_snap,
        shipment=order_snap.shipment if order_snap else None, compliance=rules,
        extra=extra(locale) if extra else None, subject=variant.subject.get(locale) if variant else None,
    )
    if tracking is not None:
        rendered = instrument(rendered, LinkContext(store.signer(), store.id, key, snapshot.base_url,
                                                     run["flow_id"], send.template, tracking))
    data = build_email(snapshot, to=recipient, rendered=rendered, message_id=message_id,
                       category=send.category, date=now, extra_headers=headers)
    row.update(locale=locale, recipient=recipient, subject=rendered.subject, data=data.decode("utf-8"),
               status="queued", last_error=None)
    return row
